package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvCLI names the redis-cli StartCluster runs (redis-cli from PATH if
// unset).
const EnvCLI = "OSSLCACHE_REDIS_CLI"

// requireCLI returns the redis-cli binary, or ends t as Require does.
func requireCLI(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvCLI); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("redistest: %s=%s: %v", EnvCLI, p, err)
		}
		return p
	}
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		if Required() {
			t.Fatalf("redistest: no redis-cli in PATH (apt-get install redis-tools; %s is set: not skipping)", EnvRequire)
		}
		t.Skipf("redistest: no redis-cli in PATH; %s is unset, so the test is skipped", EnvRequire)
	}
	return p
}

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// Masters is the number of masters (3 if 0), Replicas the replicas of
	// each (0 for none).
	Masters, Replicas int
	// NodeTimeout is cluster-node-timeout: how long a master may not
	// answer before the cluster fails it over (1 s if 0).
	NodeTimeout time.Duration
	// Password, if set, is required of clients (and used by replicas).
	Password string
}

// Cluster is a Redis Cluster of redis-server processes on loopback, made
// the way operators make one: redis-cli --cluster create.
type Cluster struct {
	// Nodes are every node, in the order given to redis-cli (which makes
	// the first Masters of them masters).
	Nodes []*Server
	t     testing.TB
	// replicas is how many replicas per master WaitReady wants every
	// node to list in CLUSTER SLOTS (all of them at the start; 0 once the
	// cluster is up and nodes may be killed).
	replicas int
}

// StartCluster runs the nodes, joins them with redis-cli --cluster create
// (slots spread over the masters, replicas assigned by redis-cli) and
// waits until the cluster is ready: every slot served, every replica in
// sync. The nodes are killed when t ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	cli := requireCLI(t)
	if o.Masters == 0 {
		o.Masters = 3
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = time.Second
	}
	c := &Cluster{t: t, replicas: o.Replicas}
	args := []string{"--cluster", "create"}
	for range o.Masters * (1 + o.Replicas) {
		so := Options{Password: o.Password, clusterNodeTimeout: o.NodeTimeout}
		if o.Password != "" {
			so.Args = []string{"--masterauth", o.Password}
		}
		s := Start(t, so)
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	cmd := exec.Command(cli, args...)
	if o.Password != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+o.Password)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c.waitReady(60 * time.Second)
	c.replicas = 0
	return c
}

// Addrs returns the addresses of every node.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		a[i] = n.Addr
	}
	return a
}

// node returns the node at addr, or nil.
func (c *Cluster) node(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// clusterNode is one line of CLUSTER NODES, as a running node sees it.
type clusterNode struct {
	ID, Addr  string
	Master    bool
	MasterID  string // a replica's master
	Failed    bool   // flagged fail (or fail?, suspected)
	Slots     int    // slots served
	Connected bool
}

// topology returns CLUSTER NODES as the first running node sees it.
func (c *Cluster) topology(ctx context.Context) ([]clusterNode, error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		v, err := n.Do(ctx, "CLUSTER", "NODES")
		if err != nil {
			continue
		}
		return parseClusterNodes(v.(string))
	}
	return nil, fmt.Errorf("redistest: no cluster node answers")
}

func parseClusterNodes(s string) ([]clusterNode, error) {
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("redistest: CLUSTER NODES line %q", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{ID: f[0], Addr: addr, Connected: f[7] == "connected"}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "master":
				n.Master = true
			case "fail", "fail?":
				n.Failed = true
			}
		}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated
			}
			lo, hi, isRange := strings.Cut(r, "-")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("redistest: slot %q", r)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil {
					return nil, fmt.Errorf("redistest: slot %q", r)
				}
			}
			n.Slots += b - a + 1
		}
		out = append(out, n)
	}
	return out, nil
}

// MasterOfKey returns the running master serving key's slot (CLUSTER
// KEYSLOT, then the topology).
func (c *Cluster) MasterOfKey(ctx context.Context, key string) (*Server, error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		v, err := n.Do(ctx, "CLUSTER", "KEYSLOT", key)
		if err != nil {
			continue
		}
		slot := v.(int64)
		shards, err := n.Do(ctx, "CLUSTER", "SLOTS")
		if err != nil {
			continue
		}
		for _, sh := range shards.([]any) {
			r := sh.([]any)
			if r[0].(int64) <= slot && slot <= r[1].(int64) {
				m := r[2].([]any)
				addr := fmt.Sprintf("%s:%d", m[0].(string), m[1].(int64))
				if s := c.node(addr); s != nil {
					return s, nil
				}
				return nil, fmt.Errorf("redistest: slot %d is served by %s, not a node of this cluster", slot, addr)
			}
		}
		return nil, fmt.Errorf("redistest: no node serves slot %d", slot)
	}
	return nil, fmt.Errorf("redistest: no cluster node answers")
}

// ReplicaOf returns a replica of master, or nil.
func (c *Cluster) ReplicaOf(ctx context.Context, master *Server) (*Server, error) {
	nodes, err := c.topology(ctx)
	if err != nil {
		return nil, err
	}
	var id string
	for _, n := range nodes {
		if n.Addr == master.Addr {
			id = n.ID
		}
	}
	for _, n := range nodes {
		if id != "" && n.MasterID == id {
			return c.node(n.Addr), nil
		}
	}
	return nil, nil
}

// waitReady waits until every running node reports cluster_state:ok, the
// running masters serve all 16384 slots between them, no running node is
// flagged failed, and every running replica's link to its master is up
// (and, within StartCluster, every node lists every replica).
func (c *Cluster) waitReady(timeout time.Duration) {
	c.t.Helper()
	waitUntil(c.t, timeout, "cluster ready", c.notReady)
}

// waitUntil polls why until it returns "", or fails t after timeout with
// its last answer.
func waitUntil(t testing.TB, timeout time.Duration, what string, why func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w := why()
		if w == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s: not after %v: %s", what, timeout, w)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) notReady() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		v, err := n.Do(ctx, "CLUSTER", "INFO")
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(v.(string), "cluster_state:ok") {
			return n.Addr + ": cluster_state is not ok"
		}
		info, err := n.Do(ctx, "INFO", "replication")
		if err != nil {
			return err.Error()
		}
		if c.replicas > 0 {
			// Every node must know every replica, as clients learn the
			// topology from any of them.
			v, err := n.Do(ctx, "CLUSTER", "SLOTS")
			if err != nil {
				return err.Error()
			}
			for _, r := range v.([]any) {
				if got := len(r.([]any)) - 3; got < c.replicas {
					return fmt.Sprintf("%s lists %d replicas for slots %v-%v", n.Addr, got, r.([]any)[0], r.([]any)[1])
				}
			}
		}
		if s := info.(string); strings.Contains(s, "role:slave") && !strings.Contains(s, "master_link_status:up") {
			return n.Addr + ": replica not in sync"
		}
	}
	nodes, err := c.topology(ctx)
	if err != nil {
		return err.Error()
	}
	slots := 0
	for _, n := range nodes {
		s := c.node(n.Addr)
		if s == nil || !s.Running() {
			continue
		}
		if n.Failed {
			return n.Addr + " is flagged failed"
		}
		if n.Master {
			slots += n.Slots
		}
	}
	if slots != 16384 {
		return fmt.Sprintf("running masters serve %d slots", slots)
	}
	return ""
}

// WaitPromoted waits until replica is a master serving slots and the
// cluster is ready again (after its master was killed, say).
func (c *Cluster) WaitPromoted(replica *Server, timeout time.Duration) {
	c.t.Helper()
	waitUntil(c.t, timeout, replica.Addr+" promoted", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nodes, err := c.topology(ctx)
		if err != nil {
			return err.Error()
		}
		for _, n := range nodes {
			if n.Addr == replica.Addr && n.Master && n.Slots > 0 {
				return c.notReady()
			}
		}
		return fmt.Sprintf("%s is not a master serving slots: %+v", replica.Addr, nodes)
	})
}
