package ghcontract

import (
	"strings"
	"testing"
)

func TestMissingArtefactsFailWithSetupHint(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	if _, err := load(); err == nil || !strings.Contains(err.Error(), SetupHint) {
		t.Fatalf("load error = %v", err)
	}
	if _, err := WebhookExamples("workflow_job"); err == nil || !strings.Contains(err.Error(), SetupHint) {
		t.Fatalf("examples error = %v", err)
	}
}

func TestPrunedOnlyAmbiguousPaths(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Pruned {
		if strings.Contains(p, "/actions/") {
			t.Errorf("pruned an Actions path Paddock may need: %s", p)
		}
	}
}
