package proxy

import (
	"testing"
	"time"
)

// SetQuotaProbeAfter sets how long a gate halted for quota waits before
// its probe, for the test t.
func SetQuotaProbeAfter(t *testing.T, d time.Duration) {
	was := quotaProbeAfter
	quotaProbeAfter = d
	t.Cleanup(func() { quotaProbeAfter = was })
}
