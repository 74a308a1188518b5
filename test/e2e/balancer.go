package e2e

import (
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// balancer stands in for the Service in front of prescale's replicas:
// this control plane runs no kube-proxy, and the APIService reaches
// prescale through an ExternalName for localhost on one port. It accepts
// there and hands each connection to the next replica, in turn, that
// accepts one; a replica that is down is passed over, as an endpoint that
// is not ready is.
type balancer struct {
	ln       net.Listener
	backends []string
	mu       sync.Mutex
	next     int
	wg       sync.WaitGroup
}

// startBalancer listens on 127.0.0.1:port and forwards to backends
// (host:port).
func startBalancer(port int, backends []string) (*balancer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	b := &balancer{ln: ln, backends: backends}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Go(func() { b.forward(c) })
		}
	})
	return b, nil
}

func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	for range b.backends {
		b.mu.Lock()
		addr := b.backends[b.next%len(b.backends)]
		b.next++
		b.mu.Unlock()
		d, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		defer d.Close()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(d, c); done <- struct{}{} }()
		go func() { _, _ = io.Copy(c, d); done <- struct{}{} }()
		<-done // either side closed: close both
		return
	}
}

// Close stops accepting and closes the connections it forwards.
func (b *balancer) Close() {
	b.ln.Close()
}
