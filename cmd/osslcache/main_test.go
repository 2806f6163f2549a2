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

// TestEveryCommandParsesAlike: -h exits 0 with the flags, a stray argument
// and an unknown flag exit 2, for every command.
func TestEveryCommandParsesAlike(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			tests := []struct {
				args []string
				code int
				want string
			}{
				{[]string{"-h"}, 0, "-"},
				{[]string{"stray"}, 2, `osslcache ` + c.name + `: unexpected arguments ["stray"]`},
				{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
			}
			for _, tt := range tests {
				var stdout, stderr bytes.Buffer
				assert.Equal(t, tt.code, c.run(tt.args, &stdout, &stderr), "%v: %s", tt.args, stderr.String())
				assert.Contains(t, stderr.String(), tt.want, "%v", tt.args)
				assert.Empty(t, stdout.String(), "%v", tt.args)
			}
		})
	}
}
