// Package readme checks that the Go example in the repository's README.md
// compiles, runs, and prints what the README says it prints.
package readme

import (
	"encoding/json"
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
		// The example must sit inside the module to import it, and the
		// source tree may be read-only (the Docker matrix mounts it so):
		// an overlay places the file there without writing it.
		tmp := t.TempDir()
		src := filepath.Join(tmp, "main.go")
		require.NoError(t, os.WriteFile(src, b[1], 0o644))
		here, err := filepath.Abs("example")
		require.NoError(t, err)
		overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(here, "main.go"): src}})
		require.NoError(t, err)
		ov := filepath.Join(tmp, "overlay.json")
		require.NoError(t, os.WriteFile(ov, overlay, 0o644))
		out, err := exec.Command("go", "run", "-overlay", ov, "./example").CombinedOutput()
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
