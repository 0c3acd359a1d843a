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

// metadataMember returns the "metadata" member of a JSON line (http,
// openai, anthropic), compacted and copied, or nil when it is absent or
// null. It must be an object: it is carried into the item's results and
// errors lines as it is. Neither batch API reserves a top-level "metadata"
// member on its lines (OpenAI's metadata belongs to the batch, and a
// "metadata" inside body or params is the API's own and is sent as it is),
// so the official members stay as the APIs write them.
func metadataMember(m jsonMembers) (json.RawMessage, string) {
	raw := m.get("metadata")
	switch {
	case !present(raw):
		return nil, ""
	case raw[0] != '{':
		return nil, "metadata must be a JSON object"
	}
	return jsonCompact(raw), ""
}
