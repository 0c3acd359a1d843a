package input

import (
	"encoding/json"
)

// What the two batch API formats (openai.go, anthropic.go) share. They are
// read so that a file made for a provider's batch API runs unchanged
// against its ordinary endpoints. custom_id may be any non-empty string: it names the result and is not
// sent, so the providers' own limits on it do not apply. The body and
// params objects are passed on as they are, and the API judges them.

// customID returns the custom_id of a batch API line.
func customID(m jsonMembers) (string, string) {
	id, given, reason := stringMember(m, "custom_id")
	switch {
	case reason != "":
		return "", reason
	case !given:
		return "", "missing custom_id"
	case id == "":
		return "", "empty custom_id"
	}
	return id, ""
}

// objectMember returns the member name of m, which must be a JSON object.
func objectMember(m jsonMembers, name string) (json.RawMessage, string) {
	raw := m.get(name)
	switch {
	case !present(raw):
		return nil, "missing " + name
	case raw[0] != '{':
		return nil, name + " must be a JSON object"
	}
	return raw, ""
}
