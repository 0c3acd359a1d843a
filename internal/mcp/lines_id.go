package mcp

import (
	"bytes"
	"encoding/json"
)

// idScanner finds the "id" member of a JSON object fed to it in pieces
// (the last, as encoding/json reads a name given twice), keeping nothing
// else: a message too long to read is still answered
// with its id, wherever the id stands. With id null, the TypeScript SDK,
// whose requests put the id after the params, could not match the answer
// to its call and waited out its timeout.
type idScanner struct {
	depth      int
	inString   bool
	escaped    bool
	expectKey  bool   // at depth 1, the next string is a member's name
	readingKey bool   // the string being read is a name at depth 1
	key        []byte // its first bytes, enough to tell "id"
	keyLong    bool
	isID       bool // the last name read at depth 1 is "id"
	capturing  bool // reading the id's value
	value      []byte
	id         json.RawMessage // found
}

// maxIDLength bounds an id's value as read; a longer one is not kept.
const maxIDLength = 128

func (s *idScanner) feed(b []byte) {
	for _, c := range b {
		if s.capturing {
			if s.depth == 1 && !s.inString && (c == ',' || c == '}') {
				s.capturing = false
				if v := bytes.TrimSpace(s.value); json.Valid(v) {
					s.id = json.RawMessage(bytes.Clone(v))
				}
			} else if s.value = append(s.value, c); len(s.value) > maxIDLength {
				s.capturing = false
			}
		}
		if s.inString {
			switch {
			case s.escaped:
				s.escaped = false
			case c == '\\':
				s.escaped = true
			case c == '"':
				s.inString = false
				if s.readingKey {
					s.readingKey = false
					s.isID = !s.keyLong && string(s.key) == "id"
				}
			case s.readingKey:
				if len(s.key) < 3 {
					s.key = append(s.key, c)
				} else {
					s.keyLong = true
				}
			}
			continue
		}
		switch c {
		case '"':
			s.inString = true
			if s.depth == 1 && s.expectKey {
				s.readingKey, s.expectKey, s.keyLong, s.key = true, false, false, s.key[:0]
			}
		case '{', '[':
			s.depth++
			s.capturing = false // an object or array is no id
			s.expectKey = s.depth == 1 && c == '{'
		case '}', ']':
			s.depth--
		case ':':
			if s.depth == 1 && s.isID {
				s.isID, s.capturing, s.value, s.id = false, true, s.value[:0], nil
			}
		case ',':
			if s.depth == 1 {
				s.expectKey = true
			}
		}
	}
}
