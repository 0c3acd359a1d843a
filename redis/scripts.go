package redis

import (
	_ "embed"

	goredis "github.com/redis/go-redis/v9"
)

// The scripts are Lua files beside this one, embedded so that what runs on
// the server is what is reviewed. go-redis's Script sends EVALSHA and, on
// NOSCRIPT, EVAL: a restarted or flushed server costs one extra round trip,
// never a failed admission.
var (
	//go:embed admit.lua
	admitSrc string
	//go:embed finish.lua
	finishSrc string
	//go:embed renew.lua
	renewSrc string
	//go:embed sent.lua
	sentSrc string
	//go:embed pause.lua
	pauseSrc string
	//go:embed learn.lua
	learnSrc string

	admitScript  = goredis.NewScript(admitSrc)
	finishScript = goredis.NewScript(finishSrc)
	renewScript  = goredis.NewScript(renewSrc)
	sentScript   = goredis.NewScript(sentSrc)
	pauseScript  = goredis.NewScript(pauseSrc)
	learnScript  = goredis.NewScript(learnSrc)
)
