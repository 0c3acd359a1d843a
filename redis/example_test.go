package redis_test

import (
	"context"
	"log"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/redis"
)

// Every process that runs this shares one 100/s and 8 calls in flight.
func Example() {
	client, err := redis.Dial("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store := redis.New(client, "my-api", redis.Options{Mode: redis.Local})
	defer store.Close()
	gate := sluice.Limits{Rate: sluice.PerSecond(100), Concurrency: 8, Store: store}.NewGate()

	p, err := gate.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		log.Fatal(err)
	}
	// ... the call ...
	p.Done(sluice.Outcome{})
}
