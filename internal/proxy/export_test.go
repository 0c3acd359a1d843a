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

// SetAbandonedHold sets how long a call whose client left keeps its slot
// at most, for the test t.
func SetAbandonedHold(t *testing.T, d time.Duration) {
	was := maxAbandonedHold
	maxAbandonedHold = d
	t.Cleanup(func() { maxAbandonedHold = was })
}
