package input

import "strings"

// joinBase appends path to base, the way the official SDKs' base URLs
// work with the paths batch lines carry: an Anthropic base is
// https://host, an OpenAI one https://host/v1, and both formats' paths
// start with /v1 (/v1/messages, "url": "/v1/chat/completions"). So a base
// ending in /v1 followed by a path starting with /v1/ gives one /v1, not
// /v1/v1, which no API serves: https://host and https://host/v1 both
// work, whichever the user's SDK taught them.
func joinBase(base, path string) string {
	if strings.HasSuffix(base, "/v1") && (path == "/v1" || strings.HasPrefix(path, "/v1/")) {
		return base + path[len("/v1"):]
	}
	return base + path
}
