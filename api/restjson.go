package api

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// restJSON is the REST API's JSON: protojson's, with the three things a
// dashboard author trips over made plain. Durations are written as
// requests write them ("3m", not "180s"); a gap in a series of numbers
// (NaN) and an infinity are null, not the strings "NaN" and "Infinity";
// 64-bit integers are numbers, not strings, up to 2^53 (past it, where a
// JavaScript number would round, they stay strings). Requests are read
// by protojson as before, and it reads all three forms.
type restJSON struct {
	*runtime.JSONPb
}

// maxSafeInt is the largest integer a float64 (a JavaScript number) holds
// exactly.
const maxSafeInt = 1 << 53

func (m *restJSON) Marshal(v any) ([]byte, error) {
	raw, err := m.JSONPb.Marshal(v)
	msg, isProto := v.(proto.Message)
	if err != nil || !isProto {
		return raw, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return raw, nil // protojson's own, as it is
	}
	tree = plainJSON(msg.ProtoReflect().Descriptor(), tree)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil {
		return raw, nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (m *restJSON) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := m.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

// jsonRewrite rewrites the JSON tree of a message, guided by its
// descriptor: duration changes each google.protobuf.Duration's text, and
// scalar each other value that is not a message (list items and map
// values one by one, nulls included).
type jsonRewrite struct {
	duration func(s string) (string, bool)
	scalar   func(fd protoreflect.FieldDescriptor, v any) any
}

func (rw jsonRewrite) message(md protoreflect.MessageDescriptor, v any) any {
	if md.FullName() == "google.protobuf.Duration" {
		if s, ok := v.(string); ok {
			if out, ok := rw.duration(s); ok {
				return out
			}
		}
		return v
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	each := func(fd protoreflect.FieldDescriptor, x any) any {
		if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			if x == nil {
				return nil
			}
			return rw.message(fd.Message(), x)
		}
		return rw.scalar(fd, x)
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		val, ok := obj[fd.JSONName()]
		if !ok {
			continue
		}
		switch {
		case fd.IsList():
			if list, ok := val.([]any); ok {
				for j := range list {
					list[j] = each(fd, list[j])
				}
			}
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok {
				for k := range m {
					m[k] = each(fd.MapValue(), m[k])
				}
			}
		default:
			obj[fd.JSONName()] = each(fd, val)
		}
	}
	return obj
}

// plainJSON rewrites the protojson tree v of a message of type md into
// the REST JSON.
func plainJSON(md protoreflect.MessageDescriptor, v any) any {
	return jsonRewrite{duration: plainDuration, scalar: plainValue}.message(md, v)
}

// plainDuration writes protojson's "180s" as "3m".
func plainDuration(s string) (string, bool) {
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Millisecond != 0 {
		return "", false
	}
	return model.Duration(d).String(), true
}

// plainValue rewrites one value of field fd.
func plainValue(fd protoreflect.FieldDescriptor, v any) any {
	switch fd.Kind() {
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if s, ok := v.(string); ok && (s == "NaN" || s == "Infinity" || s == "-Infinity") {
			return nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n <= maxSafeInt && n >= -maxSafeInt {
				return json.Number(s)
			}
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseUint(s, 10, 64); err == nil && n <= maxSafeInt {
				return json.Number(s)
			}
		}
	}
	return v
}

// UnmarshalREST reads a REST answer into m: the inverse of restJSON, so
// that a Go client (and the tests) can decode with the API's messages.
// Unknown fields are an error, as protojson's.
func UnmarshalREST(data []byte, m proto.Message) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return err
	}
	raw, err := json.Marshal(protoJSON(m.ProtoReflect().Descriptor(), tree))
	if err != nil {
		return err
	}
	return protojson.Unmarshal(raw, m)
}

// protoJSON rewrites the REST tree v of a message of type md back into
// protojson's: durations in seconds, null numbers as NaN.
func protoJSON(md protoreflect.MessageDescriptor, v any) any {
	return jsonRewrite{
		duration: func(s string) (string, bool) {
			d, err := model.ParseDuration(s)
			if err != nil {
				return "", false
			}
			return strconv.FormatFloat(time.Duration(d).Seconds(), 'f', -1, 64) + "s", true
		},
		scalar: func(fd protoreflect.FieldDescriptor, v any) any {
			if v == nil && (fd.Kind() == protoreflect.DoubleKind || fd.Kind() == protoreflect.FloatKind) {
				return "NaN"
			}
			return v
		},
	}.message(md, v)
}
