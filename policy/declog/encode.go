package declog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The encoders append JSON by hand: the engine hands over pre-encoded
// documents, and the rest are a few strings and numbers, so a record costs
// copies into a reused buffer and no reflection.

// appendDecision appends d's record and its newline.
func appendDecision(b []byte, d *Decision, rate float64) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, d.ID)
	b = append(b, `,"path":"modgate/decision"`...)
	b = appendRaw(b, `,"input":`, d.Input)
	b = appendRaw(b, `,"result":`, d.Result)
	b = appendError(b, d.Err)
	b = appendCommon(b, d.Bundles, d.PolicyRevision, d.Time, d.Client, d.VulnDB, rate)
	if d.Cached {
		b = append(b, `,"cached":true`...)
	} else {
		b = appendMetrics(b, d.EvalNS)
	}
	return append(b, "}\n"...)
}

// appendListing appends r's record and its newline.
func appendListing(b []byte, r *Listing, rate float64) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"kind":`...)
	b = appendString(b, r.Kind)
	b = append(b, `,"path":"modgate/decision","module":`...)
	b = appendString(b, r.Module)
	b = append(b, `,"candidates":{"allowed":[`...)
	for i, v := range r.Allowed {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	b = append(b, ']')
	b = appendCandidates(b, `,"denied":`, r.Denied)
	b = appendCandidates(b, `,"audit":`, r.Audit)
	b = appendCandidates(b, `,"warn":`, r.Warn)
	b = append(b, '}')
	if r.Kind == KindLatest {
		b = append(b, `,"chosen":`...)
		b = appendString(b, r.Chosen)
	}
	b = appendError(b, r.Err)
	b = appendCommon(b, r.Bundles, r.PolicyRevision, r.Time, r.Client, r.VulnDB, rate)
	b = appendMetrics(b, r.EvalNS)
	return append(b, "}\n"...)
}

// appendCommon appends the fields every record ends with.
func appendCommon(b, bundles []byte, rev string, t time.Time, client, vulndb string, rate float64) []byte {
	b = appendRaw(b, `,"bundles":`, bundles)
	b = append(b, `,"policy_revision":`...)
	b = appendString(b, rev)
	b = append(b, `,"timestamp":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","requested_by":`...)
	b = appendString(b, client)
	b = append(b, `,"vulndb_snapshot":`...)
	b = appendString(b, vulndb)
	b = append(b, `,"sample_rate":`...)
	return strconv.AppendFloat(b, rate, 'g', -1, 64)
}

func appendCandidates(b []byte, key string, cs []Candidate) []byte {
	b = append(b, key...)
	b = append(b, '[')
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"version":`...)
		b = appendString(b, c.Version)
		b = append(b, `,"rules":[`...)
		for j, r := range c.Rules {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r)
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
}

// appendRaw appends key and the JSON value v, or nothing when v is empty.
func appendRaw(b []byte, key string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, key...)
	return append(b, v...)
}

func appendError(b []byte, err error) []byte {
	if err == nil {
		return b
	}
	b = append(b, `,"error":`...)
	return appendString(b, err.Error())
}

func appendMetrics(b []byte, ns int64) []byte {
	if ns <= 0 {
		return b
	}
	b = append(b, `,"metrics":{"timer_modgate_decide_ns":`...)
	b = strconv.AppendInt(b, ns, 10)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json would without
// HTML escaping: invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029 are
// escaped for JavaScript readers.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
