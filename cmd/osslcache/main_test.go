package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunDispatches(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, want string
	}{
		{"no command", nil, 2, "", "usage: osslcache <command>"},
		{"help", []string{"help"}, 0, "usage: osslcache <command>", ""},
		{"-h", []string{"-h"}, 0, "usage: osslcache <command>", ""},
		{"unknown", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"a command's own flags", []string{"bench", "-n", "0"}, 2, "", "osslcache bench: -n and -rounds must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.code, run(tt.args, &stdout, &stderr))
			assert.Contains(t, stdout.String(), tt.stdout)
			assert.Contains(t, stderr.String(), tt.want)
		})
	}
}

func TestUsageListsEveryCommandOnce(t *testing.T) {
	var b bytes.Buffer
	usage(&b)
	seen := map[string]bool{}
	for _, c := range commands {
		assert.False(t, seen[c.name], "%s listed twice", c.name)
		seen[c.name] = true
		assert.Contains(t, b.String(), "  "+c.name+" ")
		assert.NotEmpty(t, c.summary)
		assert.NotNil(t, c.run)
	}
	assert.Len(t, seen, 8)
}
