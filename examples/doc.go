// Package examples shows sluice at work under the official API SDKs. It
// holds no code of its own, only tests: runnable Example functions, each
// checked against its // Output: comment by go test, and tests of sluice's
// mock API under the same SDKs.
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
//
// The tests in mock_anthropic_test.go and mock_openai_test.go point the
// official Anthropic and OpenAI (github.com/openai/openai-go/v3) SDKs at
// sluice's mock API (internal/mock, importable here because this module's
// path is under github.com/sluicehq/sluice) through their base-URL options:
// a call, a stream and an error each, so that the mock stays a faithful
// stand-in for the real APIs as the SDKs evolve.
package examples
