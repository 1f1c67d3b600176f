// Package winboot renders the PowerShell that boots a Windows runner
// machine with Paddock's single-use flow: the install script the metadata
// endpoint serves to os_type windows pools, and the bootstrap that fetches
// and runs it, as user data (no secret in it) or as a GARM provider's
// runner_install_template (token written in, as GARM and the Linux
// template do).
package winboot

import (
	_ "embed"
	"strings"
)

//go:embed install.ps1
var installScript string

//go:embed bootstrap.ps1
var bootstrapScript string

// psQuote makes s one single-quoted PowerShell string. PowerShell also
// takes the typographic single quotes as quote marks, so they are doubled
// too.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func render(script, metadataURL, callbackURL, token string) string {
	return strings.NewReplacer(
		"@@METADATA_URL@@", psQuote(strings.TrimRight(metadataURL, "/")),
		"@@CALLBACK_URL@@", psQuote(strings.TrimRight(callbackURL, "/")),
		"@@BEARER_TOKEN@@", psQuote(token),
	).Replace(script)
}

// InstallScript is GET /api/v1/metadata/install-script(.ps1) for a Windows
// machine. It is fetched with the token, so the token is written in (as in
// the Linux install script); the caller's environment wins.
func InstallScript(metadataURL, callbackURL, token string) string {
	return render(installScript, metadataURL, callbackURL, token)
}

// UserData is the bootstrap as user data for cloudbase-init (its first
// line, #ps1_sysnative, runs it in 64-bit PowerShell) or Azure custom data
// run by a CustomScriptExtension. It holds no token: the machine reads it
// from the boot settings file paddock-boot.env (see bootstrap.ps1), which
// the provider hands over apart from the user data, as the qemu provider's
// seed volume does for Linux.
func UserData(metadataURL, callbackURL string) string {
	return render(bootstrapScript, metadataURL, callbackURL, "")
}

// EC2UserData is UserData in the <powershell> wrapper EC2Launch expects.
func EC2UserData(metadataURL, callbackURL string) string {
	return "<powershell>\n" + UserData(metadataURL, callbackURL) + "</powershell>\n"
}

// InstallTemplate is the bootstrap with the token written in: the
// runner_install_template handed to GARM providers for Windows pools. GARM's
// providers render user data from it (cloudbase-init's #ps1_sysnative
// script; garm-provider-aws adds the <powershell> wrapper), so, as with
// GARM's own Windows template and Paddock's Linux one, the token is in that
// user data. It contains no "{{", since providers run it through
// text/template.
func InstallTemplate(metadataURL, callbackURL, token string) string {
	return render(bootstrapScript, metadataURL, callbackURL, token)
}
