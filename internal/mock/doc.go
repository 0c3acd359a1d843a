// Package mock is a realistic stand-in for rate-limited, LLM-style HTTP
// APIs, for tests, demos and CI. It enforces request, token and concurrency
// limits the way those APIs do, answers with their bodies and rate-limit
// headers, streams server-sent events, takes time to answer and injects
// faults (5xx, 529, connection resets, slow bodies).
//
// The mock is the judge of sluice's limiters, so it counts with its own plain
// code (a float level, a last-update time and one mutex per server) and never
// imports the sluice package: a bug shared by judge and judged would hide
// itself.
//
// # Styles
//
//	anthropic  POST /v1/messages, POST /v1/messages/count_tokens;
//	           anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-
//	           {limit,remaining,reset} (reset in RFC 3339), retry-after, request-id
//	openai     POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings;
//	           x-ratelimit-{limit,remaining,reset}-{requests,tokens} (reset a Go
//	           duration such as "6m0s" or "12ms"), retry-after, retry-after-ms
//	generic    any method and path, answered with {"method","path","count","body"}
//	           echoing the request; X-RateLimit-{Limit,Remaining,Reset} (reset in
//	           seconds), Retry-After
//
// Every style answers GET /__stats with Stats as JSON. Requests the API
// cannot read get 400 (validation, in the provider's error shape), 404
// (unknown path) or 405; they take nothing from any limit.
//
// # Limits
//
// Each Limit is a continuously replenished bucket: Limit{N, Per} holds
// max(N, 1) units, starts full and refills at N per Per. A request needs one
// unit of the request bucket and as many tokens as it uses from the token
// buckets. Limits are checked in this order: quota, concurrency, requests,
// tokens (input, output, total); the first that cannot cover the request
// refuses it with 429, and a refused request consumes nothing.
//
// Anthropic and OpenAI headers report limits per minute, as those APIs do:
// Limit{20, time.Second} is a 20-unit bucket refilled at 20 a second and is
// reported as a limit of 1200. Remaining is what the bucket holds now (at
// most 20, not 1200), and reset is when it will be full again. Pacing
// requests evenly at the reported per-minute rate therefore never breaks the
// limit; bursts are allowed up to the bucket's capacity. Generic headers
// report the capacity itself (20) as the limit.
//
// Retry-after is the time until the refusing bucket holds enough, rounded up
// to whole seconds (at least 1): waiting that long is always enough, unless
// other requests take the units first. A concurrency refusal says 1 second;
// a request larger than the bucket can ever hold, and an OpenAI account out
// of quota, get no retry-after, since waiting cannot help.
//
// # Tokens
//
// Input tokens are estimated as one per four bytes of prompt text (at least
// one). The output length is drawn when the request arrives, between 10 and
// min(max_tokens, 300) tokens, so the mock knows the true usage before it
// admits the request: it refuses up front when a token bucket cannot cover
// input plus output, and charges exactly that at admission. This is
// Anthropic's rule (estimate at the start, settle at the end) with a perfect
// estimate, which keeps every count deterministic. Tokens charged for a
// request that then gets no 2xx (an injected fault, a reset, a client that
// went away) are given back; its request unit is not, since the API saw it.
// Anthropic's count_tokens spends a request and a concurrency slot but no
// tokens. OpenAI's token limit counts a request's max_tokens (when it has
// one) rather than the output drawn, as OpenAI documents, and keeps it
// charged: an answer shorter than max_tokens gives nothing back. An
// OpenAI quota is charged with the total tokens of each 2xx.
//
// # Time
//
// An admitted request waits its latency, then sends its headers (the time to
// first byte), then its body: at once, or as the model would produce it at
// OutputRate tokens a second (streams are paced chunk by chunk), or dribbled
// over one to two more seconds for a slow body. It holds its concurrency
// slot until the body is written; a client that goes away frees it at once.
//
// Every clock reading is time.Now and every wait a timer, so tests can run
// the mock under testing/synctest with fake time by calling ServeHTTP
// inside the bubble. Create the Server inside the bubble too.
package mock
