package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelOptions configures StartSentinel.
type SentinelOptions struct {
	// Name is the master's name (DefaultMasterName if empty).
	Name string
	// Replicas is the number of replicas (1 if 0), Sentinels the number
	// of sentinels (3 if 0; the quorum is a majority of them).
	Replicas, Sentinels int
	// DownAfter is down-after-milliseconds: how long the master may not
	// answer before the sentinels fail it over (1 s if 0).
	DownAfter time.Duration
}

// DefaultMasterName is the master's name when SentinelOptions.Name is empty.
const DefaultMasterName = "osslcache"

// Sentinel is a master, its replicas and the Redis Sentinels that watch
// them, each a redis-server process on loopback (sentinels run
// redis-server --sentinel).
type Sentinel struct {
	Name      string
	Master    *Server // the master it started with
	Replicas  []*Server
	Sentinels []*Server
	t         testing.TB
}

// StartSentinel runs the master, the replicas (replicaof the master) and
// the sentinels, and waits until every sentinel knows every replica and
// every other sentinel: a failover can then happen. Everything is killed
// when t ends.
func StartSentinel(t testing.TB, o SentinelOptions) *Sentinel {
	t.Helper()
	if o.Name == "" {
		o.Name = DefaultMasterName
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	s := &Sentinel{Name: o.Name, t: t}
	s.Master = Start(t, Options{})
	host, port, _ := net.SplitHostPort(s.Master.Addr)
	for range o.Replicas {
		s.Replicas = append(s.Replicas, Start(t, Options{Args: []string{"--replicaof", host, port}}))
	}
	conf := fmt.Sprintf("sentinel monitor %s %s %s %d\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s %d\n"+
		"sentinel parallel-syncs %s 1\n",
		o.Name, host, port, o.Sentinels/2+1,
		o.Name, o.DownAfter.Milliseconds(),
		o.Name, (10 * o.DownAfter).Milliseconds(),
		o.Name)
	for range o.Sentinels {
		s.Sentinels = append(s.Sentinels, Start(t, Options{Config: conf, Args: []string{"--sentinel"}}))
	}
	s.waitReady(60 * time.Second)
	return s
}

// Addrs returns the sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	a := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		a[i] = n.Addr
	}
	return a
}

// masterAddr returns the master's address as the first running sentinel
// that answers sees it.
func (s *Sentinel) masterAddr(ctx context.Context) (string, error) {
	for _, n := range s.Sentinels {
		if !n.Running() {
			continue
		}
		v, err := n.Do(ctx, "SENTINEL", "get-master-addr-by-name", s.Name)
		if err != nil {
			continue
		}
		hp := v.([]any)
		return net.JoinHostPort(hp[0].(string), hp[1].(string)), nil
	}
	return "", fmt.Errorf("redistest: no sentinel answers")
}

// node returns the master or replica at addr, or nil.
func (s *Sentinel) node(addr string) *Server {
	for _, n := range append([]*Server{s.Master}, s.Replicas...) {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// waitReady waits until every running sentinel sees a running master, as
// many running replicas as are up and in sync, and every other running
// sentinel.
func (s *Sentinel) waitReady(timeout time.Duration) {
	s.t.Helper()
	waitUntil(s.t, timeout, "sentinels ready", s.notReady)
}

func (s *Sentinel) notReady() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	running := 0
	for _, n := range s.Sentinels {
		if n.Running() {
			running++
		}
	}
	replicas := 0
	for _, n := range s.Replicas {
		if n.Running() {
			replicas++
		}
	}
	if !s.Master.Running() {
		replicas-- // a replica was promoted in its place
	}
	for _, n := range s.Sentinels {
		if !n.Running() {
			continue
		}
		v, err := n.Do(ctx, "SENTINEL", "master", s.Name)
		if err != nil {
			return n.Addr + ": " + err.Error()
		}
		m := pairs(v)
		if strings.Contains(m["flags"], "down") {
			return n.Addr + " sees the master down: " + m["flags"]
		}
		if got, _ := strconv.Atoi(m["num-other-sentinels"]); got < running-1 {
			return fmt.Sprintf("%s knows %d other sentinels of %d", n.Addr, got, running-1)
		}
		rs, err := n.Do(ctx, "SENTINEL", "replicas", s.Name)
		if err != nil {
			return n.Addr + ": " + err.Error()
		}
		ok := 0
		for _, r := range rs.([]any) {
			rm := pairs(r)
			node := s.node(net.JoinHostPort(rm["ip"], rm["port"]))
			if node != nil && node.Running() && !strings.Contains(rm["flags"], "down") && rm["master-link-status"] == "ok" {
				ok++
			}
		}
		if ok < replicas {
			return fmt.Sprintf("%s sees %d replicas in sync of %d", n.Addr, ok, replicas)
		}
	}
	addr, err := s.masterAddr(ctx)
	if err != nil {
		return err.Error()
	}
	if m := s.node(addr); m == nil || !m.Running() {
		return "the master " + addr + " is not running"
	}
	return ""
}

// WaitFailover waits until the sentinels name another master than from,
// a running one, and are ready again; it returns the new master.
func (s *Sentinel) WaitFailover(from string, timeout time.Duration) *Server {
	s.t.Helper()
	var m *Server
	waitUntil(s.t, timeout, "failover from "+from, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addr, err := s.masterAddr(ctx)
		switch {
		case err != nil:
			return err.Error()
		case addr == from:
			return "the sentinels still name " + from
		}
		if m = s.node(addr); m == nil || !m.Running() {
			return "the sentinels name " + addr + ", which is not running"
		}
		return s.notReady()
	})
	return m
}

// pairs reads a flat [k1, v1, k2, v2, ...] reply.
func pairs(v any) map[string]string {
	m := map[string]string{}
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			m[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, x := range v {
			m[fmt.Sprint(k)] = fmt.Sprint(x)
		}
	}
	return m
}
