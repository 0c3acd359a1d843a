package mock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
)

// embeddingRequest is the part of an embeddings request the mock reads.
type embeddingRequest struct {
	Model          *string         `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
}

// Embeddings are small by default: enough to check, cheap to send.
const (
	embeddingSize    = 8
	maxEmbeddingSize = 4096
	maxEmbeddings    = 2048
)

// embeddingInputs reads input as OpenAI does: a string, an array of
// strings, an array of token ids, or an array of arrays of token ids. It
// returns the bytes that seed each vector and the tokens of each, or false
// when input has none of these shapes or an empty item.
func embeddingInputs(input json.RawMessage) (keys [][]byte, tokens []int64, ok bool) {
	var texts []string
	var idLists [][]int64
	if one := ""; json.Unmarshal(input, &one) == nil {
		texts = []string{one}
	} else if many := []string(nil); json.Unmarshal(input, &many) == nil {
		texts = many
	} else if ids := []int64(nil); json.Unmarshal(input, &ids) == nil {
		idLists = [][]int64{ids}
	} else if lists := [][]int64(nil); json.Unmarshal(input, &lists) == nil {
		idLists = lists
	} else {
		return nil, nil, false
	}
	for _, s := range texts {
		if s == "" {
			return nil, nil, false
		}
		keys, tokens = append(keys, []byte(s)), append(tokens, estimateTokens(len(s)))
	}
	for _, l := range idLists {
		if len(l) == 0 {
			return nil, nil, false
		}
		b, _ := json.Marshal(l)
		keys, tokens = append(keys, b), append(tokens, int64(len(l)))
	}
	return keys, tokens, len(keys) > 0 && len(keys) <= maxEmbeddings
}

func (o openAIAPI) embeddings(w http.ResponseWriter, r *http.Request, body []byte) {
	var req embeddingRequest
	if !o.decode(w, body, &req) {
		return
	}
	if req.Model == nil || *req.Model == "" {
		o.invalid400(w, "you must provide a model parameter", "")
		return
	}
	if len(req.Input) == 0 || string(req.Input) == "null" {
		o.invalid400(w, "Missing required parameter: 'input'.", "input")
		return
	}
	keys, tokens, ok := embeddingInputs(req.Input)
	if !ok {
		o.invalid400(w, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", "")
		return
	}
	if f := req.EncodingFormat; f != "" && f != "float" && f != "base64" {
		o.invalid400(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'float' and 'base64'.", f), "encoding_format")
		return
	}
	size := embeddingSize
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > maxEmbeddingSize {
			o.invalid400(w, fmt.Sprintf("Invalid 'dimensions': expected a value between 1 and %d, but got %d instead.", maxEmbeddingSize, *req.Dimensions), "dimensions")
			return
		}
		size = *req.Dimensions
	}
	var c cost
	for _, n := range tokens {
		c.input += n
	}
	o.s.call(w, r, c, func(p *reply) {
		type embedding struct {
			Object    string `json:"object"`
			Index     int    `json:"index"`
			Embedding any    `json:"embedding"`
		}
		data := make([]embedding, len(keys))
		for i, k := range keys {
			v := embed(k, size)
			data[i] = embedding{Object: "embedding", Index: i, Embedding: v}
			if req.EncodingFormat == "base64" {
				data[i].Embedding = base64Floats(v)
			}
		}
		b, _ := json.Marshal(map[string]any{
			"object": "list",
			"data":   data,
			"model":  *req.Model,
			"usage":  map[string]int64{"prompt_tokens": c.input, "total_tokens": c.input},
		})
		p.start("application/json")
		p.body(append(b, '\n'), 0)
	})
}

// embed returns a deterministic unit vector of size floats for key: the
// same input always gets the same embedding, whatever the seed.
func embed(key []byte, size int) []float32 {
	h := fnv.New64a()
	h.Write(key)
	x := h.Sum64()
	v := make([]float64, size)
	norm := 0.0
	for i := range v {
		x = splitmix64(x)
		v[i] = float64(x>>11)/(1<<53)*2 - 1
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, size)
	for i := range v {
		out[i] = float32(v[i] / norm)
	}
	return out
}

// base64Floats encodes v as OpenAI's encoding_format "base64" does: little
// endian float32s.
func base64Floats(v []float32) string {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}
