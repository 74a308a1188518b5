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

// plainJSON rewrites the protojson tree v of a message of type md.
func plainJSON(md protoreflect.MessageDescriptor, v any) any {
	if md.FullName() == "google.protobuf.Duration" {
		if s, ok := v.(string); ok {
			if d, err := time.ParseDuration(s); err == nil && d%time.Millisecond == 0 {
				return model.Duration(d).String()
			}
		}
		return v
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		val, ok := obj[fd.JSONName()]
		if !ok || val == nil {
			continue
		}
		switch {
		case fd.IsList():
			if list, ok := val.([]any); ok {
				for j := range list {
					list[j] = plainValue(fd, list[j])
				}
			}
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok {
				for k := range m {
					m[k] = plainValue(fd.MapValue(), m[k])
				}
			}
		default:
			obj[fd.JSONName()] = plainValue(fd, val)
		}
	}
	return obj
}

// plainValue rewrites one value of field fd.
func plainValue(fd protoreflect.FieldDescriptor, v any) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return plainJSON(fd.Message(), v)
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
// protojson's: durations in seconds, null numbers in lists as NaN.
func protoJSON(md protoreflect.MessageDescriptor, v any) any {
	if md.FullName() == "google.protobuf.Duration" {
		if s, ok := v.(string); ok {
			if d, err := model.ParseDuration(s); err == nil {
				return strconv.FormatFloat(time.Duration(d).Seconds(), 'f', -1, 64) + "s"
			}
		}
		return v
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		val, ok := obj[fd.JSONName()]
		if !ok || val == nil {
			continue
		}
		isMessage := fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
		isFloat := fd.Kind() == protoreflect.DoubleKind || fd.Kind() == protoreflect.FloatKind
		switch {
		case fd.IsList():
			if list, ok := val.([]any); ok {
				for j := range list {
					switch {
					case isMessage:
						list[j] = protoJSON(fd.Message(), list[j])
					case isFloat && list[j] == nil:
						list[j] = "NaN"
					}
				}
			}
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok && fd.MapValue().Kind() == protoreflect.MessageKind {
				for k := range m {
					m[k] = protoJSON(fd.MapValue().Message(), m[k])
				}
			}
		case isMessage:
			obj[fd.JSONName()] = protoJSON(fd.Message(), val)
		}
	}
	// A null scalar number was NaN (a null message is unset, as protojson reads it).
	for i := range fields.Len() {
		fd := fields.Get(i)
		if val, ok := obj[fd.JSONName()]; ok && val == nil && !fd.IsList() && !fd.IsMap() &&
			(fd.Kind() == protoreflect.DoubleKind || fd.Kind() == protoreflect.FloatKind) {
			obj[fd.JSONName()] = "NaN"
		}
	}
	return obj
}
