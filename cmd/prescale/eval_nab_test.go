package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
)

func TestEvalNABTmp(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: os.Stderr, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	args := []string{"--data", "/work/shared/data"}
	if d := os.Getenv("NAB_DET"); d != "" {
		args = append(args, "--detector", d)
	}
	if err := runEvalNAB(context.Background(), e, args); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	_ = json.Valid
}
