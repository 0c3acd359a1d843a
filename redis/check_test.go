package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
)

// checkURL dials url, checks a store on it, and returns Check's error and
// what the store logged.
func checkURL(t *testing.T, url string, mode Mode) (*Store, error, string) {
	t.Helper()
	c, err := Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var log apitest.Buffer
	st := New(c, "api", Options{Prefix: uniquePrefix(t), Mode: mode, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	t.Cleanup(func() { st.Close() })
	err = st.Check(context.Background())
	return st, err, log.String()
}

func TestCheckRefusesADatabaseOutOfRange(t *testing.T) {
	_, err, _ := checkURL(t, "redis://"+sharedAddr(t)+"/99", Local)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Fatalf("Check = %v, want ErrRefused naming the DB index", err)
	}
}

func TestCheckRefusesAWrongPassword(t *testing.T) {
	srv := startServer(t, "--requirepass", "right")
	for _, url := range []string{"redis://:wrong@" + srv.addr, "redis://" + srv.addr, "redis://default:wrong@" + srv.addr} {
		st, err, _ := checkURL(t, url, Local)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: Check = %v, want ErrRefused", url, err)
		}
		if err != nil && strings.Contains(err.Error()+st.String(), "wrong") {
			t.Errorf("%s: the password shows: %v; %s", url, err, st)
		}
	}
	if _, err, _ := checkURL(t, "redis://:right@"+srv.addr, Local); err != nil {
		t.Fatalf("the right password: Check = %v", err)
	}
}

func TestCheckRefusesTLSToAPlainServer(t *testing.T) {
	_, err, _ := checkURL(t, "rediss://"+sharedAddr(t)+"/0", Local)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "without TLS") {
		t.Fatalf("Check = %v, want ErrRefused saying the server has no TLS", err)
	}
}

func TestCheckCallsSilenceAnOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	st, err, log := checkURL(t, "redis://"+addr, Closed)
	if errors.Is(err, ErrRefused) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, sluice.ErrSharedUnavailable) {
		t.Fatalf("Check = %v, want ErrUnavailable and sluice.ErrSharedUnavailable, not ErrRefused", err)
	}
	if !st.Stats().Down || !strings.Contains(log, "not answering") {
		t.Fatalf("down %v, log %q: want down, warned as not answering", st.Stats().Down, log)
	}
}

func TestAnErrorAnswerIsNotCalledSilence(t *testing.T) {
	st := newTestStore(t, sharedAddr(t), uniquePrefix(t), Options{})
	var log apitest.Buffer
	st.opt.Logger = slog.New(slog.NewTextHandler(&log, nil))
	c, err := Dial("redis://" + sharedAddr(t) + "/99")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st.down(c.Ping(context.Background()).Err())
	if got := log.String(); strings.Contains(got, "not answering") || !strings.Contains(got, "answered with an error") {
		t.Fatalf("warning %q: want it to say Redis answered with an error", got)
	}
}

func TestStoreStringNamesTheRedisWithoutItsPassword(t *testing.T) {
	c, err := Dial("redis://u:secret@127.0.0.1:6390/3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := New(c, "K", Options{Mode: Closed})
	if got, want := st.String(), "Redis at 127.0.0.1:6390/3 as K (mode closed)"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestGoRedisLogGoesToSlogAtDebug(t *testing.T) {
	var buf apitest.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	defer slog.SetDefault(old)
	debugLogger{}.Printf(context.Background(), "failed to dial after %d attempts", 5)
	if buf.String() != "" {
		t.Fatalf("at info level it printed %q", buf.String())
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	debugLogger{}.Printf(context.Background(), "failed to dial after %d attempts", 5)
	if !strings.Contains(buf.String(), fmt.Sprint("failed to dial after 5 attempts")) || !strings.Contains(buf.String(), "DEBUG") {
		t.Fatalf("at debug level it printed %q", buf.String())
	}
}

// A holder killed with kill -9 keeps its slots from the others until its
// leases expire: the default must keep that stall short (issue 13,
// review: ~10s of silent waiting), and renewal (every third) well apart.
func TestKilledHoldersStallIsBoundedByTheDefaultLeaseTTL(t *testing.T) {
	st := New(nil, "api", Options{})
	if st.opt.LeaseTTL != DefaultLeaseTTL || DefaultLeaseTTL > 5*time.Second || DefaultLeaseTTL/3 < time.Second {
		t.Fatalf("LeaseTTL %v (default %v): want at most 5s, renewed at least a second apart", st.opt.LeaseTTL, DefaultLeaseTTL)
	}
}

// The store's sentinels match the library's, so that every face can
// branch on the library's alone (sluice.ClassOf) and a caller holding
// the sentinel itself sees the same.
func TestSentinelsMatchTheLibrarys(t *testing.T) {
	if !errors.Is(ErrUnavailable, sluice.ErrSharedUnavailable) {
		t.Error("ErrUnavailable does not match sluice.ErrSharedUnavailable")
	}
	if !errors.Is(ErrTooLarge, sluice.ErrTooLarge) {
		t.Error("ErrTooLarge does not match sluice.ErrTooLarge")
	}
	if errors.Is(ErrTooLarge, sluice.ErrSharedUnavailable) || errors.Is(ErrUnavailable, sluice.ErrTooLarge) {
		t.Error("a sentinel matches the other condition")
	}
	if c := sluice.ClassOf(fmt.Errorf("admit: %w", ErrUnavailable)); c != sluice.ClassSharedUnavailable {
		t.Errorf("ClassOf(wrapped ErrUnavailable) = %v, want shared-unavailable", c)
	}
}
