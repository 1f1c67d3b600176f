package forge_test

import (
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/forge"
)

// githubList is GitHub's download list shape (os linux/win/osx,
// architecture x64/arm64/arm).
var githubList = []forge.RunnerTool{
	{OS: "osx", Architecture: "x64", Filename: "actions-runner-osx-x64-2.328.0.tar.gz"},
	{OS: "linux", Architecture: "arm", Filename: "actions-runner-linux-arm-2.328.0.tar.gz"},
	{OS: "win", Architecture: "x64", Filename: "actions-runner-win-x64-2.328.0.zip"},
	{OS: "linux", Architecture: "x64", Filename: "actions-runner-linux-x64-2.328.0.tar.gz"},
	{OS: "osx", Architecture: "arm64", Filename: "actions-runner-osx-arm64-2.328.0.tar.gz"},
	{OS: "win", Architecture: "arm64", Filename: "actions-runner-win-arm64-2.328.0.zip"},
	{OS: "linux", Architecture: "arm64", Filename: "actions-runner-linux-arm64-2.328.0.tar.gz"},
}

func TestPickRunnerToolMapsPoolNamesToTheForgeList(t *testing.T) {
	for _, c := range []struct{ osType, arch, want string }{
		{"linux", "x64", "actions-runner-linux-x64-2.328.0.tar.gz"},
		{"linux", "amd64", "actions-runner-linux-x64-2.328.0.tar.gz"},
		{"", "", "actions-runner-linux-x64-2.328.0.tar.gz"},
		{"linux", "arm64", "actions-runner-linux-arm64-2.328.0.tar.gz"},
		{"Linux", "aarch64", "actions-runner-linux-arm64-2.328.0.tar.gz"},
		{"windows", "x64", "actions-runner-win-x64-2.328.0.zip"},
		{"windows", "amd64", "actions-runner-win-x64-2.328.0.zip"},
		{"windows", "arm64", "actions-runner-win-arm64-2.328.0.zip"},
		{"macos", "arm64", "actions-runner-osx-arm64-2.328.0.tar.gz"},
	} {
		got, err := forge.PickRunnerTool(githubList, c.osType, c.arch)
		if err != nil || got.Filename != c.want {
			t.Errorf("%s/%s: got %q, %v; want %s", c.osType, c.arch, got.Filename, err, c.want)
		}
	}
}

// A Gitea forge's configured runner_downloads may say windows/amd64.
func TestPickRunnerToolAcceptsTheForgesOtherSpellings(t *testing.T) {
	list := []forge.RunnerTool{{OS: "windows", Architecture: "amd64", Filename: "act_runner.exe"},
		{OS: "linux", Architecture: "aarch64", Filename: "act_runner-arm64"}}
	if got, err := forge.PickRunnerTool(list, "windows", "x64"); err != nil || got.Filename != "act_runner.exe" {
		t.Fatalf("windows/x64: %+v %v", got, err)
	}
	if got, err := forge.PickRunnerTool(list, "linux", "arm64"); err != nil || got.Filename != "act_runner-arm64" {
		t.Fatalf("linux/arm64: %+v %v", got, err)
	}
}

func TestPickRunnerToolNamesWhatTheForgeOffers(t *testing.T) {
	list := []forge.RunnerTool{{OS: "linux", Architecture: "x64"}, {OS: "linux", Architecture: "x64"}, {OS: "win", Architecture: "x64"}}
	_, err := forge.PickRunnerTool(list, "windows", "arm64")
	if err == nil {
		t.Fatal("windows/arm64 picked from a list without it")
	}
	for _, want := range []string{`os_type "windows" arch "arm64"`, "(win-arm64)", "it offers linux-x64, win-x64:", "runner_downloads"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := forge.PickRunnerTool(nil, "linux", "x64"); err == nil || !strings.Contains(err.Error(), "it offers nothing") {
		t.Errorf("empty list: %v", err)
	}
}
