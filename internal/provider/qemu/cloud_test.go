package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Set PADDOCK_UPDATE_GOLDEN=1 to rewrite testdata/ after a deliberate change.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("PADDOCK_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func TestUserDataScratchByDefault(t *testing.T) {
	ud, err := userData(WorkspaceScratch)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "user-data-scratch.golden", ud)
	if !strings.HasPrefix(string(ud), "#cloud-config\n") {
		t.Fatal("user-data lacks the #cloud-config header cloud-init needs")
	}
	var cc cloudConfig
	if err := yaml.Unmarshal(ud, &cc); err != nil {
		t.Fatalf("user-data is not YAML: %v", err)
	}
	if len(cc.WriteFiles) != 1 || len(cc.RunCmd) != 1 || cc.PowerState.Mode != "poweroff" || !cc.PowerState.Condition {
		t.Fatalf("cloud-config = %+v", cc)
	}
	script := cc.WriteFiles[0].Content
	if out, err := exec.Command("bash", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("bootstrap is not valid bash: %v %s", err, out)
	}
	for _, want := range []string{
		"WORKSPACE_MODE=scratch",
		"/dev/disk/by-id/virtio-" + scratchSerial,
		"cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512",
		"--key-file /dev/urandom --keyfile-size 64",
		"mount /dev/mapper/paddock-scratch \"$WS\"",
		`"data-root": "%s/docker"`,
		"blkid -L cidata",
		"cp /run/paddock/seed/" + seedBootFile + " /run/paddock/boot.env",
		`-H "Authorization: Bearer ${BEARER_TOKEN}" -o /run/paddock/install.sh "${METADATA_URL}/install-script/"`,
		"bash /run/paddock/install.sh",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("bootstrap lacks %q", want)
		}
	}
	if cc.RunCmd[0][1] != cc.WriteFiles[0].Path {
		t.Errorf("runcmd %v does not run the bootstrap %s", cc.RunCmd, cc.WriteFiles[0].Path)
	}
	// The user-data is copied by cloud-init to the overlay (host disk): it
	// must carry no token, and no URL or credential either.
	for _, bad := range []string{"BEARER_TOKEN=", "http://", "ghp_", "registration"} {
		if strings.Contains(string(ud), bad) {
			t.Errorf("user-data contains %q", bad)
		}
	}
}

func TestUserDataTmpfs(t *testing.T) {
	ud, err := userData(WorkspaceTmpfs)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "user-data-tmpfs.golden", ud)
	if !strings.Contains(string(ud), "WORKSPACE_MODE=tmpfs") || !strings.Contains(string(ud), "mount -t tmpfs") {
		t.Errorf("tmpfs user-data:\n%s", ud)
	}
	if _, err := userData("disk"); err == nil {
		t.Error("workspace \"disk\" accepted")
	}
}

func TestMetaDataAndBootEnv(t *testing.T) {
	md, err := metaData("pool-abc")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(md, &m); err != nil || m["instance-id"] != "pool-abc" || m["local-hostname"] != "pool-abc" {
		t.Fatalf("meta-data %q: %v %v", md, m, err)
	}
	env := string(bootEnv("m1", "http://10.0.2.100:8080/api/v1/metadata", "http://10.0.2.100:8080/api/v1/callbacks", "to'k"))
	cmd := exec.Command("bash", "-c", `. /dev/stdin; printf '%s|%s|%s' "$METADATA_URL" "$CALLBACK_URL" "$BEARER_TOKEN"`)
	cmd.Stdin = strings.NewReader(env)
	out, err := cmd.Output()
	if err != nil || string(out) != "http://10.0.2.100:8080/api/v1/metadata|http://10.0.2.100:8080/api/v1/callbacks|to'k" {
		t.Fatalf("sourcing the boot file gives %q, %v", out, err)
	}
}

func fileState(t *testing.T, path string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	sum := sha256.Sum256(b)
	return string(sum[:]), fi.ModTime().UnixNano()
}

func TestPrepareCloudOverlayAndSeed(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Fatalf("qemu-img (Debian package qemu-utils) is needed: %v", err)
	}
	base := filepath.Join(t.TempDir(), "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "16M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	sum, mtime := fileState(t, base)
	p := &Provider{opts: Options{QemuImg: "qemu-img", Workspace: WorkspaceScratch}}
	dir := t.TempDir()
	const token = "instance-token-123"
	if err := p.prepareCloud(context.Background(), dir, base, "m1", "http://10.0.2.100:1/api/v1/metadata", "http://10.0.2.100:1/cb", token); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qemu-img", "info", "--output=json", filepath.Join(dir, overlayFile)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Format        string `json:"format"`
		Backing       string `json:"backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Format != "qcow2" || info.Backing != base || info.BackingFormat != "qcow2" {
		t.Fatalf("overlay info %+v (%v): want qcow2 over %s", info, err, base)
	}
	label, files, err := readSeed(filepath.Join(dir, seedFile))
	if err != nil || strings.TrimRight(label, "\x00") != seedLabel {
		t.Fatalf("seed label %q: %v", label, err)
	}
	if !strings.Contains(string(files["meta-data"]), "instance-id: m1") {
		t.Errorf("meta-data = %q", files["meta-data"])
	}
	if !strings.Contains(string(files[seedBootFile]), "BEARER_TOKEN='"+token+"'") {
		t.Errorf("boot file lacks the token: %q", files[seedBootFile])
	}
	for name, b := range files {
		if name != seedBootFile && strings.Contains(string(b), token) {
			t.Errorf("%s holds the token; only %s may", name, seedBootFile)
		}
	}
	if s, m := fileState(t, base); s != sum || m != mtime {
		t.Fatal("the base image changed")
	}
	if err := createOverlay(context.Background(), "qemu-img", filepath.Join(dir, seedFile), filepath.Join(dir, "x.qcow2")); err == nil {
		t.Error("an overlay over a non-qcow2 base was accepted")
	}
}

func TestCloudBase(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "img.qcow2")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := cloudBase("qcow2:" + f); err != nil || got != f {
		t.Errorf("cloudBase = %q, %v", got, err)
	}
	if got, err := cloudBase("debian-12"); err != nil || got != "" {
		t.Errorf("a non-qcow2 pool image = %q, %v; want the fast image", got, err)
	}
	for _, bad := range []string{"qcow2:img.qcow2", "qcow2:" + dir, "qcow2:" + dir + "/missing.qcow2"} {
		if _, err := cloudBase(bad); err == nil {
			t.Errorf("cloudBase(%q) accepted", bad)
		}
	}
}

func TestCloudVMArgs(t *testing.T) {
	args := strings.Join(vmArgs(vmConfig{name: "m1", dir: "/s/m1", accel: "tcg", cpus: 1, memoryMB: 1024,
		relay: []string{"/p", "qemu-relay"}, fwd: map[int]string{8080: "127.0.0.1:8080"}, scratch: true, cloud: true}), " ")
	for _, want := range []string{
		"-drive if=none,id=root,format=qcow2,cache=unsafe,discard=unmap,file=/s/m1/overlay.qcow2 -device virtio-blk-pci,drive=root,bootindex=0",
		"-drive if=none,id=seed,format=raw,readonly=on,file=/s/m1/seed.iso -device virtio-blk-pci,drive=seed",
		"file=/s/m1/scratch.img -device virtio-blk-pci,drive=scratch,serial=paddock-scratch",
		"restrict=on,guestfwd=tcp:10.0.2.100:8080-cmd:/p qemu-relay 127.0.0.1:8080",
		"-pidfile /s/m1/qemu.pid", "-daemonize", "-no-reboot",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("cloud args lack %q:\n%s", want, args)
		}
	}
	for _, bad := range []string{"-kernel", "-initrd", "-fw_cfg", "-append"} {
		if strings.Contains(args, bad) {
			t.Errorf("cloud args have %s: %s", bad, args)
		}
	}
}

func TestCloudScratchSize(t *testing.T) {
	p := &Provider{opts: Options{Workspace: WorkspaceScratch}}
	if p.cloudScratchGB(0) != defaultCloudScratchGB || p.cloudScratchGB(7) != 7 {
		t.Error("scratch is not on by default for cloud images")
	}
	p.opts.ScratchGB = 3
	if p.cloudScratchGB(0) != 3 {
		t.Error("scratch_gb ignored")
	}
	p.opts.Workspace = WorkspaceTmpfs
	if p.cloudScratchGB(20) != 0 {
		t.Error("a tmpfs workspace still gets a scratch disk")
	}
}
