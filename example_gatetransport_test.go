package sluice_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/sluicehq/sluice"
)

// One limit over every host, while each host keeps its own: the
// Transport's gates are per host, and its Base, a GateTransport, puts
// every call of every host through one more gate.
func ExampleGateTransport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer api.Close()

	all := sluice.Limits{Concurrency: 16, Rate: sluice.PerSecond(50)}.NewGate()
	client := &http.Client{Transport: &sluice.Transport{
		Limits: sluice.Limits{Concurrency: 4}, // each host
		Base:   &sluice.GateTransport{Gate: all},
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body), all.Stats().InFlight)
	// Output: ok 0
}
