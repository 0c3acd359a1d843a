package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/redis"
)

// redisFlags share a command's limits through Redis: --redis URL names the
// server, --key NAME the shared limits (every process naming the same key
// shares them), --redis-mode what to do while Redis does not answer.
type redisFlags struct {
	url, key, mode string
	processes      int
}

// add defines the flags on f.
func (r *redisFlags) add(f *pflag.FlagSet) {
	f.StringVar(&r.url, "redis", "", "share the limits with every process naming the same --key through Redis at `URL` (redis://host:6379/0)")
	f.StringVar(&r.key, "key", "", "with --redis: the `NAME` of the shared limits")
	f.StringVar(&r.mode, "redis-mode", "local", "while Redis does not answer: local (this process's share of the limits, in memory) | open | closed")
	f.IntVar(&r.processes, "redis-processes", 1, "with --redis-mode local: how many processes share the key, for a process that has never reached Redis to take its share (1: the whole limit)")
}

// store returns the Store the flags ask for, nil without --redis, and a
// func that closes it; or a usage error naming the flag. The store warns
// through logger (nil: slog's default), the command's own, so that its
// warnings read as the command's other lines do.
func (r *redisFlags) store(logger *slog.Logger) (*redis.Store, func(), error) {
	nothing := func() {}
	switch {
	case r.url == "" && r.key == "":
		return nil, nothing, nil
	case r.url == "":
		return nil, nothing, usageError("--key %q needs --redis URL", r.key)
	case r.key == "":
		return nil, nothing, usageError("--redis needs --key NAME: every process naming the same key shares one set of limits")
	}
	mode, err := redis.ParseMode(r.mode)
	if err != nil {
		return nil, nothing, usageError("--redis-mode: %v", err)
	}
	if r.processes < 0 { // 0, as in a redisFlags made in code, is the default
		return nil, nothing, usageError("--redis-processes %d: want 1 or more", r.processes)
	}
	client, err := redis.Dial(r.url)
	if err != nil {
		return nil, nothing, usageError("--redis %s: %v", redactURL(r.url), err)
	}
	st := redis.New(client, r.key, redis.Options{Mode: mode, Processes: r.processes, Logger: logger})
	closeStore := func() { st.Close(); client.Close() }
	if err := checkStore(st, "--redis "+redactURL(r.url)); err != nil {
		closeStore()
		return nil, nothing, err
	}
	return st, closeStore, nil
}

// checkStore asks the store's Redis once, at startup: an answer that is
// an error (a wrong database, password or scheme) is a usage error naming
// what (the flag or field and its URL, password redacted), since every
// process would otherwise run on the whole limit alone; silence is an
// outage, which the store's mode handles (it has warned).
func checkStore(st *redis.Store, what string) error {
	if err := st.Check(context.Background()); errors.Is(err, redis.ErrRefused) {
		return usageError("%s: %v", what, err)
	}
	return nil
}

// redactURL returns raw with its password replaced by xxxxx.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	return u.Redacted()
}

// share sets the store on the limits and on every model's own.
func (r *redisFlags) share(st *redis.Store, limits *sluice.Limits, models map[string]sluice.Limits) {
	if st == nil {
		return
	}
	limits.Store = st
	for name, l := range models {
		l.Store = st
		models[name] = l
	}
}

// shareRoutes builds a Store for each route whose configuration names a
// Redis, under its redis_key or else the name of its upstream's host and
// prefix (every proxy with the same route shares its limits) in its
// redis_mode, split among its redis_processes, and returns
// the stores, by route index (nil for a route not shared), and a func
// closing them. The stores warn through logger.
func shareRoutes(routes []proxy.Route, logger *slog.Logger) ([]*redis.Store, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	stores := make([]*redis.Store, len(routes))
	for i := range routes {
		r := &routes[i]
		if r.Redis == "" {
			continue
		}
		client, err := redis.Dial(r.Redis)
		if err != nil {
			closeAll()
			return nil, func() {}, usageError("routes[%d].redis %s: %v", i, redactURL(r.Redis), err)
		}
		mode, err := redis.ParseMode(r.RedisMode) // checked by the file's reader
		if err != nil {
			client.Close()
			closeAll()
			return nil, func() {}, usageError("routes[%d].redis_mode: %v", i, err)
		}
		key := r.RedisKey
		if key == "" {
			key = r.Upstream.Host + r.Prefix
		}
		st := redis.New(client, key, redis.Options{Mode: mode, Processes: r.RedisProcesses, Logger: logger})
		closers = append(closers, func() { st.Close(); client.Close() })
		if err := checkStore(st, fmt.Sprintf("routes[%d].redis %s", i, redactURL(r.Redis))); err != nil {
			closeAll()
			return nil, func() {}, err
		}
		stores[i] = st
		(&redisFlags{}).share(st, &r.Limits, r.Models)
	}
	return stores, closeAll, nil
}
