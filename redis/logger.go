package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// quietLogger installs debugLogger once, on the first Dial.
var quietLogger sync.Once

// debugLogger is go-redis's logger as Dial sets it: go-redis logs a line
// per failed dial (about a second apart while Redis is down) straight to
// standard error, which would bury the Store's one warning per outage. It
// sends them to slog.Default at debug level instead.
type debugLogger struct{}

// Printf implements go-redis's internal.Logging.
func (debugLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}
