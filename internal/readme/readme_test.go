// Package readme checks that the Go example in the repository's README.md
// compiles, runs, and prints what the README says it prints.
package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goBlock is a ```go block and the plain ``` block after it (its output).
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```.*?It prints[^\n]*\n\n```\n(.*?)```")

func TestREADMEExampleRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	blocks := goBlock.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "README.md has a ```go example followed by what it prints")
	for i, b := range blocks {
		// The example must live inside the module to import it.
		dir, err := os.MkdirTemp(".", "example-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), b[1], 0o644))
		out, err := exec.Command("go", "run", "./"+dir).CombinedOutput()
		require.NoError(t, err, "README example %d:\n%s", i+1, out)
		assert.Equal(t, withoutVersion(string(b[2])), withoutVersion(string(out)), "README example %d's output", i+1)
	}
}

// withoutVersion drops the line naming the linked OpenSSL, which differs
// from machine to machine.
func withoutVersion(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "linked: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
