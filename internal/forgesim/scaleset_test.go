package forgesim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	ghss "github.com/actions/scaleset"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// ssClient is the scale-set library's client pointed at the sim's repository o/r.
func ssClient(t *testing.T, sim *forgesim.Sim) *ghss.Client {
	t.Helper()
	c, err := ghss.NewClientWithPersonalAccessToken(ghss.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL: sim.URL() + "o/r", PersonalAccessToken: "pat"}, ghss.WithRetryMax(1),
		ghss.WithRetryWaitMax(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startSSSim(t *testing.T) *forgesim.Sim {
	t.Helper()
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func TestScaleSetSessionsConflictUntilExpiry(t *testing.T) {
	sim := startSSSim(t)
	sim.SetScaleSetTiming(200*time.Millisecond, 600*time.Millisecond)
	ctx := context.Background()
	c := ssClient(t, sim)
	set, err := c.CreateRunnerScaleSet(ctx, &ghss.RunnerScaleSet{Name: "big", RunnerGroupID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRunnerScaleSet(ctx, &ghss.RunnerScaleSet{Name: "BIG", RunnerGroupID: 1}); err == nil {
		t.Fatal("a second scale set with the same name in the same group was created")
	}
	first, err := c.MessageSessionClient(ctx, set.ID, "one")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.MessageSessionClient(ctx, set.ID, "two")
	if err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("second session while the first lives: err = %v, want 409", err)
	}
	// Polling keeps the first alive past the TTL; a 202 is (nil, nil).
	for range 4 {
		msg, err := first.GetMessage(ctx, 0, 5)
		if err != nil || msg != nil {
			t.Fatalf("idle poll: %v %v", msg, err)
		}
	}
	if _, err := c.MessageSessionClient(ctx, set.ID, "two"); err == nil {
		t.Fatal("a polled session was taken over")
	}
	if got := sim.ScaleSets()[0]; got.Capacity != 5 || got.SessionOwner != "one" {
		t.Fatalf("scale set %+v: want capacity 5 held by one", got)
	}
	// No polls: the session expires (TTL 600 ms) and "two" may take over.
	var second *ghss.MessageSessionClient
	testutil.Eventually(t, "take-over after the session's expiry", 10*time.Second, func() bool {
		second, err = c.MessageSessionClient(ctx, set.ID, "two")
		return err == nil
	})
	if _, err := first.GetMessage(ctx, 0, 5); err == nil {
		t.Fatal("the replaced session still polls")
	}
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestScaleSetMessagesAndJIT(t *testing.T) {
	sim := startSSSim(t)
	ctx := context.Background()
	c := ssClient(t, sim)
	set, err := c.CreateRunnerScaleSet(ctx, &ghss.RunnerScaleSet{Name: "ss", RunnerGroupID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"ss"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"other"}}); err != nil {
		t.Fatal(err)
	}
	sess, err := c.MessageSessionClient(ctx, set.ID, "me")
	if err != nil {
		t.Fatal(err)
	}
	if st := sess.Session().Statistics; st == nil || st.TotalAssignedJobs != 1 {
		t.Fatalf("session statistics %+v: want the one job asking for ss", st)
	}
	msg, err := sess.GetMessage(ctx, 0, 2)
	if err != nil || msg == nil || len(msg.JobAssignedMessages) != 1 {
		t.Fatalf("first message %+v, %v", msg, err)
	}
	// Unacknowledged messages come back.
	again, err := sess.GetMessage(ctx, 0, 2)
	if err != nil || again == nil || again.MessageID != msg.MessageID {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	if err := sess.DeleteMessage(ctx, msg.MessageID); err != nil {
		t.Fatal(err)
	}
	jit, err := c.GenerateJitRunnerConfig(ctx, &ghss.RunnerScaleSetJitRunnerSetting{Name: "r1"}, set.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := forgesim.DecodeJIT(jit.EncodedJITConfig)
	if err != nil || p.RunnerName != "r1" || int(p.RunnerID) != jit.Runner.ID {
		t.Fatalf("JIT config %+v: %v", p, err)
	}
	_, err = c.GenerateJitRunnerConfig(ctx, &ghss.RunnerScaleSetJitRunnerSetting{Name: "r1"}, set.ID)
	if !errors.Is(err, ghss.RunnerExistsError) {
		t.Fatalf("second runner named r1: err = %v, want RunnerExistsError", err)
	}
	if err := c.RemoveRunner(ctx, int64(jit.Runner.ID)); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveRunner(ctx, int64(jit.Runner.ID)); !errors.Is(err, ghss.RunnerNotFoundError) {
		t.Fatalf("removing a removed runner: %v, want RunnerNotFoundError", err)
	}
}

func TestScaleSetRejectsBadCalls(t *testing.T) {
	sim := startSSSim(t)
	post := func(path, auth, body string) int {
		req, _ := http.NewRequest(http.MethodPost, sim.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"url": "` + sim.URL() + `o/r", "runner_event": "register"}`
	if code := post("api/v3/actions/runner-registration", "RemoteAuth NOT-ISSUED", body); code != http.StatusUnauthorized {
		t.Errorf("unissued registration token: %d, want 401", code)
	}
	if code := post("_actions/_apis/runtime/runnerscalesets", "Bearer forged.jwt.token", `{"name": "x"}`); code != http.StatusUnauthorized {
		t.Errorf("forged admin token: %d, want 401", code)
	}
	// A registration token for o/r does not open o/other.
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"api/v3/repos/o/r/actions/runners/registration-token", nil)
	req.Header.Set("Authorization", "Bearer pat")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("registration token: %v", err)
	}
	other := `{"url": "` + sim.URL() + `o/other", "runner_event": "register"}`
	if code := post("api/v3/actions/runner-registration", "RemoteAuth "+tok.Token, other); code != http.StatusUnauthorized {
		t.Errorf("token of another repository: %d, want 401", code)
	}
	if code := post("api/v3/actions/runner-registration", "RemoteAuth "+tok.Token, body); code != http.StatusOK {
		t.Errorf("valid exchange: %d, want 200", code)
	}
}
