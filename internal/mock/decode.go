package mock

import (
	"encoding/json"
	"errors"
	"reflect"
)

// decodeJSON reads body into v. When it fails, typeField names the field
// that had the wrong type, with want the kind of value expected; when
// typeField is empty the body is not a JSON object at all.
func decodeJSON(body []byte, v any) (typeField, want string, err error) {
	err = json.Unmarshal(body, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field, kindName(te.Type), err
	}
	return "", "", err
}

// kindName names a Go type as a JSON schema would.
func kindName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return "value"
}
