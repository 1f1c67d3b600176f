package winboot_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/winboot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	metaURL = "http://paddock.example:8080/api/v1/metadata/"
	cbURL   = "http://paddock.example:8080/api/v1/callbacks"
	// token has both kinds of single quote PowerShell knows.
	token = "tok-it's-\u2019x"
)

func rendered() map[string]string {
	return map[string]string{
		"install.ps1":         winboot.InstallScript(metaURL, cbURL, token),
		"userdata.ps1":        winboot.UserData(metaURL, cbURL),
		"userdata-ec2.txt":    winboot.EC2UserData(metaURL, cbURL),
		"runner-template.ps1": winboot.InstallTemplate(metaURL, cbURL, token),
	}
}

// TestGolden pins the rendered scripts; go test -update rewrites them after
// a deliberate change, to be read in review.
func TestGolden(t *testing.T) {
	for name, got := range rendered() {
		path := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/winboot -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s (run go test ./internal/winboot -update and review the diff)", name, path)
		}
	}
}

// TestUserDataHoldsNoSecret: the user-data forms carry no token (the
// machine reads it from its boot settings file); only the forms fetched
// with the token or handed to a GARM provider hold it.
func TestUserDataHoldsNoSecret(t *testing.T) {
	for name, s := range rendered() {
		has := strings.Contains(s, "tok-it''s-\u2019\u2019x")
		if wantToken := !strings.HasPrefix(name, "userdata"); has != wantToken {
			t.Errorf("%s: token written in = %v, want %v", name, has, wantToken)
		}
		if strings.Contains(s, "tok-it's") {
			t.Errorf("%s: the token's quote is not escaped", name)
		}
	}
	for _, ud := range []string{winboot.UserData(metaURL, cbURL), winboot.EC2UserData(metaURL, cbURL)} {
		if !strings.Contains(ud, "$Token = ''\n") || !strings.Contains(ud, "paddock-boot.env") {
			t.Fatalf("user data does not read its token from the boot settings:\n%s", ud)
		}
	}
}

// TestUserDataForms: cloudbase-init runs user data whose first line is
// #ps1_sysnative as 64-bit PowerShell; EC2Launch wants <powershell> tags.
func TestUserDataForms(t *testing.T) {
	if ud := winboot.UserData(metaURL, cbURL); !strings.HasPrefix(ud, "#ps1_sysnative\n") {
		t.Fatalf("cloudbase-init user data starts %q", ud[:20])
	}
	if tmpl := winboot.InstallTemplate(metaURL, cbURL, token); !strings.HasPrefix(tmpl, "#ps1_sysnative\n") {
		t.Fatalf("runner_install_template starts %q", tmpl[:20])
	}
	ec2 := winboot.EC2UserData(metaURL, cbURL)
	if !strings.HasPrefix(ec2, "<powershell>\n#ps1_sysnative\n") || !strings.HasSuffix(ec2, "</powershell>\n") {
		t.Fatalf("EC2 user data: %q … %q", ec2[:30], ec2[len(ec2)-20:])
	}
	// Trailing slashes are dropped: the scripts append /runner, /status.
	if s := winboot.InstallScript(metaURL, cbURL+"/", token); !strings.Contains(s, "'http://paddock.example:8080/api/v1/metadata'") ||
		!strings.Contains(s, "'http://paddock.example:8080/api/v1/callbacks'") {
		t.Fatal("URLs not written in without their trailing slash")
	}
}

// TestScriptsAreWellFormed is what can be checked without a PowerShell
// (none is installable here): pure ASCII (Windows PowerShell 5.1 reads a
// file without BOM in the ANSI code page), no "{{" (GARM providers run the
// template through text/template), no placeholder left, and braces,
// brackets and parentheses balanced outside comments and strings.
func TestScriptsAreWellFormed(t *testing.T) {
	for name, s := range rendered() {
		for i, r := range s {
			// The test token's typographic quote is the one exception.
			if (r > 0x7e || r < 0x20 && r != '\n' && r != '\t') && r != '\u2019' {
				t.Errorf("%s: character %q at %d is not ASCII", name, r, i)
			}
		}
		for n, line := range strings.Split(s, "\n") {
			// A line continuation is a backtick as the line's very last character.
			if strings.TrimRight(line, " \t") != line && strings.HasSuffix(strings.TrimRight(line, " \t"), "`") {
				t.Errorf("%s line %d: whitespace after a line-continuation backtick", name, n+1)
			}
		}
		if strings.Contains(s, "{{") || strings.Contains(s, "@@") {
			t.Errorf("%s: has {{ or an unreplaced @@ placeholder", name)
		}
		body := strings.TrimSuffix(strings.TrimPrefix(s, "<powershell>\n"), "</powershell>\n")
		if err := balanced(body); err != "" {
			t.Errorf("%s: %s", name, err)
		}
	}
}

func TestBalancedCatchesMistakes(t *testing.T) {
	for _, bad := range []string{"if ($a) { x", "f(\"a\"", "'unterminated", "x = @{ a = 1 ))"} {
		if balanced(bad) == "" {
			t.Errorf("balanced(%q) found nothing wrong", bad)
		}
	}
	if err := balanced("# (\n$x = 'a(b''c' + \"d`\"(\" + @{ k = $(1) } # }\n"); err != "" {
		t.Errorf("good script: %s", err)
	}
}

// balanced checks delimiters the way PowerShell's tokenizer sees them:
// # comments to the end of the line, '…' strings with ” escapes, "…"
// strings with ` escapes. It is a check for typos, not a parser.
func balanced(s string) string {
	var stack []rune
	pairs := map[rune]rune{')': '(', '}': '{', ']': '['}
	rs := []rune(s)
	line := 1
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\n':
			line++
		case '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			line++
		case '\'', '\u2018', '\u2019':
			for i++; ; i++ {
				if i >= len(rs) {
					return "unterminated single-quoted string"
				}
				if q := rs[i]; q == '\'' || q == '\u2018' || q == '\u2019' {
					if i+1 < len(rs) && (rs[i+1] == '\'' || rs[i+1] == '\u2018' || rs[i+1] == '\u2019') {
						i++
						continue
					}
					break
				}
			}
		case '"':
			for i++; ; i++ {
				if i >= len(rs) {
					return "unterminated double-quoted string"
				}
				if rs[i] == '`' {
					i++
					continue
				}
				if rs[i] == '"' {
					break
				}
			}
		case '(', '{', '[':
			stack = append(stack, r)
		case ')', '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return "unbalanced " + string(r) + " on line " + strconv.Itoa(line)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return "unclosed " + string(stack)
	}
	return ""
}
