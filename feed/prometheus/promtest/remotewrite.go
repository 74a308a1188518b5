package promtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
)

// RemoteWrite sends the series' samples (NaN values left out) to the
// server's remote-write receiver (protocol 1.0: snappy-compressed protobuf
// prompb.WriteRequest, encoded here by hand so no module is needed).
//
// The receiver appends to the TSDB head, so it takes live points, not
// history: per series, samples must be newer than the last one written,
// and no older than the newest backfilled block's end or about an hour
// before the newest sample in the head. Prometheus rejects the others
// with 400 Bad Request ("out of order sample", "out of bounds"), returned
// here as an error. Unlike Start it never calls tb, so a test may feed a
// server from another goroutine.
func (s *Server) RemoteWrite(ctx context.Context, series ...Series) error {
	if err := validateSeries(series); err != nil {
		return err
	}
	body := snappyEncode(encodeWriteRequest(series))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/write", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("remote write: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Field numbers of prompb (types.proto, remote.proto).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2

	writeRequestTimeseries = 1 // WriteRequest.timeseries: repeated TimeSeries
	timeSeriesLabels       = 1 // TimeSeries.labels: repeated Label
	timeSeriesSamples      = 2 // TimeSeries.samples: repeated Sample
	labelName              = 1 // Label.name: string
	labelValue             = 2 // Label.value: string
	sampleValue            = 1 // Sample.value: double
	sampleTimestamp        = 2 // Sample.timestamp: int64, milliseconds
)

// encodeWriteRequest encodes a prompb.WriteRequest. Labels are sorted by
// name with __name__ among them, as the protocol requires.
func encodeWriteRequest(series []Series) []byte {
	var req, ts, msg []byte
	for i := range series {
		s := &series[i]
		ts = ts[:0]
		names := make([]string, 0, len(s.Labels)+1)
		names = append(names, "__name__")
		for l := range s.Labels {
			names = append(names, l)
		}
		slices.Sort(names)
		for _, l := range names {
			v := s.Name
			if l != "__name__" {
				v = s.Labels[l]
			}
			msg = appendString(msg[:0], labelName, l)
			msg = appendString(msg, labelValue, v)
			ts = appendBytes(ts, timeSeriesLabels, msg)
		}
		for j, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			msg = appendTag(msg[:0], sampleValue, wireFixed64)
			msg = binary.LittleEndian.AppendUint64(msg, math.Float64bits(v))
			msg = appendTag(msg, sampleTimestamp, wireVarint)
			msg = binary.AppendUvarint(msg, uint64(s.Time(j).UnixMilli()))
			ts = appendBytes(ts, timeSeriesSamples, msg)
		}
		req = appendBytes(req, writeRequestTimeseries, ts)
	}
	return req
}

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, field int, v string) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// snappyEncode writes src as a valid snappy block made only of literals:
// no compression, and no dependency. The receiver only needs to decode it.
func snappyEncode(src []byte) []byte {
	dst := binary.AppendUvarint(make([]byte, 0, len(src)+len(src)/65536*3+16), uint64(len(src)))
	for len(src) > 0 {
		n := min(len(src), 65536)
		switch m := n - 1; {
		case m < 60:
			dst = append(dst, byte(m)<<2)
		case m < 1<<8:
			dst = append(dst, 60<<2, byte(m))
		default:
			dst = append(dst, 61<<2, byte(m), byte(m>>8))
		}
		dst = append(dst, src[:n]...)
		src = src[n:]
	}
	return dst
}
