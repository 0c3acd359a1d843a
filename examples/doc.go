// Package examples shows sluice at work under the official API SDKs. It
// holds no code of its own, only runnable Example functions, each checked
// against its // Output: comment by go test.
//
// It is a module of its own so that the SDKs it imports never become
// dependencies of sluice: go.mod points github.com/sluicehq/sluice at the
// parent directory. The examples talk to fake APIs on loopback (httptest),
// so they need no network and no API key. Run them with
//
//	cd examples && go test ./...
//
// Example_anthropicSDK, in anthropic_test.go, plugs a sluice.Transport into
// the Anthropic Go SDK with option.WithHTTPClient and turns off the SDK's
// own retries, so that every retry goes back through the gate.
package examples
