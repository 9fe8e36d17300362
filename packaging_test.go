package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/bulkguard/bulkguard/tools"
)

// registryName is the server's name in the MCP registry: the io.github
// namespace of the module's GitHub owner.
const registryName = "io.github.bulkguard/bulkguard"

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct {
	cmd, args string
}

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestDockerfile lints the Dockerfile for what a container engine would
// only show at build or run time (none runs in CI): multi-stage, every base
// image pinned, a distroless or scratch runtime running as a non-root user,
// the MCP registry's ownership label matching server.json, an exec-form
// ENTRYPOINT, and the version set at link time.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var froms []string
	last := -1 // index of the last FROM
	for i, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in.args)
			last = i
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM", len(froms))
	}
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*(@sha256:[a-f0-9]{64})?$|^[a-z0-9./-]+:[a-z0-9._-]+@sha256:[a-f0-9]{64}$`)
	for _, f := range froms {
		fields := strings.Fields(f)
		var image string
		for _, fl := range fields {
			if !strings.HasPrefix(fl, "--") {
				image = fl
				break
			}
		}
		if !pinned.MatchString(image) || strings.Contains(image, ":latest") {
			t.Errorf("FROM %s: pin the image to a version tag or a digest", image)
		}
	}
	goMod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVersion == nil || !strings.Contains(froms[0], "golang:"+string(goVersion[1])+".") {
		t.Errorf("the build stage %q does not use the Go release go.mod names (go %s)", froms[0], goVersion[1])
	}
	runtime := froms[len(froms)-1]
	if !strings.HasPrefix(runtime, "gcr.io/distroless/static") && runtime != "scratch" {
		t.Errorf("runtime image %s: want distroless static or scratch", runtime)
	}
	if !strings.Contains(runtime, "@sha256:") && runtime != "scratch" {
		t.Errorf("runtime image %s: pin it by digest too", runtime)
	}

	var user, entrypoint, label string
	copied := false
	for _, in := range ins[last:] {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "LABEL":
			if m := regexp.MustCompile(`io\.modelcontextprotocol\.server\.name="([^"]+)"`).FindStringSubmatch(in.args); m != nil {
				label = m[1]
			}
		case "COPY":
			copied = copied || strings.Contains(in.args, "--from=")
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("USER %q: the runtime stage must run as a non-root user", user)
	}
	if label != registryName {
		t.Errorf("label io.modelcontextprotocol.server.name = %q, want %q (the registry checks it against server.json)", label, registryName)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 || filepath.Base(ep[0]) != "bulkguard" {
		t.Errorf("ENTRYPOINT %s: want the exec form running bulkguard (stdin and signals reach it directly)", entrypoint)
	}
	if !copied {
		t.Error("the runtime stage copies nothing from the build stage")
	}
	var build string
	for _, in := range ins[:last] {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-X main.version=${VERSION}", "-trimpath"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build step lacks %s: %s", want, build)
		}
	}
}

// TestServerJSON checks server.json against what the MCP registry documents
// for server.json (name, description, version, packages) and against the
// rest of the repository: the container label, the module path, the
// variables the binary reads.
func TestServerJSON(t *testing.T) {
	b, err := os.ReadFile("server.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema      string `json:"$schema"`
		Name        string `json:"name"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Version     string `json:"version"`
		Repository  struct {
			URL    string `json:"url"`
			Source string `json:"source"`
		} `json:"repository"`
		Packages []struct {
			RegistryType string `json:"registryType"`
			Identifier   string `json:"identifier"`
			Version      string `json:"version"`
			FileSha256   string `json:"fileSha256"`
			Transport    struct {
				Type string `json:"type"`
			} `json:"transport"`
			EnvironmentVariables []struct {
				Name     string `json:"name"`
				IsSecret bool   `json:"isSecret"`
				Format   string `json:"format"`
			} `json:"environmentVariables"`
		} `json:"packages"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("server.json: %v", err)
	}
	if !regexp.MustCompile(`^https://static\.modelcontextprotocol\.io/schemas/\d{4}-\d{2}-\d{2}/server\.schema\.json$`).MatchString(s.Schema) {
		t.Errorf("$schema %q is not a registry schema URL", s.Schema)
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$`).MatchString(s.Name) || s.Name != registryName {
		t.Errorf("name %q, want %q (reverse DNS, one slash)", s.Name, registryName)
	}
	if n := len(s.Description); n < 1 || n > 100 {
		t.Errorf("description is %d characters; the registry takes 1 to 100", n)
	}
	semver := regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	if !semver.MatchString(s.Version) {
		t.Errorf("version %q: want a specific semantic version (no ranges, not latest)", s.Version)
	}
	if s.Repository.URL != "https://github.com/bulkguard/bulkguard" || s.Repository.Source != "github" {
		t.Errorf("repository = %+v", s.Repository)
	}
	if len(s.Packages) == 0 {
		t.Fatal("no packages")
	}
	known := knownVariables()
	known = append(known, envCloseAPIKey)
	for _, p := range s.Packages {
		if p.Transport.Type != "stdio" {
			t.Errorf("%s package: transport %q, want stdio", p.RegistryType, p.Transport.Type)
		}
		switch p.RegistryType {
		case "oci":
			// registry/namespace/repository:tag, the tag the release's.
			if want := "ghcr.io/bulkguard/bulkguard:" + s.Version; p.Identifier != want {
				t.Errorf("oci identifier %q, want %q", p.Identifier, want)
			}
		case "go":
			if p.Identifier != "github.com/bulkguard/bulkguard" || p.Version != "v"+s.Version {
				t.Errorf("go package %s@%s, want the module at v%s", p.Identifier, p.Version, s.Version)
			}
		case "mcpb":
			if !regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(p.FileSha256) || !strings.Contains(p.Identifier, "mcp") ||
				!strings.HasPrefix(p.Identifier, "https://github.com/bulkguard/bulkguard/releases/download/v"+s.Version+"/") {
				t.Errorf("mcpb package %s (sha256 %q): want a release asset of v%s with its SHA-256", p.Identifier, p.FileSha256, s.Version)
			}
		default:
			t.Errorf("package type %q: bulkguard ships oci, go and mcpb", p.RegistryType)
		}
		for _, v := range p.EnvironmentVariables {
			if !slices.Contains(known, v.Name) {
				t.Errorf("%s package: variable %s is not one bulkguard reads", p.RegistryType, v.Name)
			}
			if v.Name == envCloseAPIKey && !v.IsSecret {
				t.Errorf("%s package: %s must be marked isSecret", p.RegistryType, v.Name)
			}
		}
	}
}

// TestGoreleaserConfig checks .goreleaser.yaml's structure: goreleaser v2,
// static builds for linux, darwin and windows on amd64 and arm64 with the
// version linked in, archives carrying the licence, and checksums.
func TestGoreleaserConfig(t *testing.T) {
	b, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `yaml:"version"`
		Builds  []struct {
			Main    string   `yaml:"main"`
			Binary  string   `yaml:"binary"`
			Env     []string `yaml:"env"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Flags   []string `yaml:"flags"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Archives []struct {
			Formats         []string `yaml:"formats"`
			FormatOverrides []struct {
				Goos    string   `yaml:"goos"`
				Formats []string `yaml:"formats"`
			} `yaml:"format_overrides"`
			Files []string `yaml:"files"`
		} `yaml:"archives"`
		Checksum struct {
			NameTemplate string `yaml:"name_template"`
			Algorithm    string `yaml:"algorithm"`
		} `yaml:"checksum"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	// A misspelt top-level key is ignored by YAML decoding but not by
	// goreleaser: these are goreleaser v2's (those this file may use).
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	topKeys := []string{"version", "project_name", "env", "before", "builds", "archives", "checksum", "snapshot", "changelog", "release", "dist", "source", "sboms", "signs", "metadata", "report_sizes"}
	for k := range top {
		if !slices.Contains(topKeys, k) {
			t.Errorf("unexpected top-level key %q", k)
		}
	}
	if cfg.Version != 2 {
		t.Errorf("version: %d, want 2 (goreleaser v2)", cfg.Version)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(cfg.Builds))
	}
	bd := cfg.Builds[0]
	if bd.Main != "." || bd.Binary != "bulkguard" {
		t.Errorf("build main %q binary %q", bd.Main, bd.Binary)
	}
	slices.Sort(bd.Goos)
	slices.Sort(bd.Goarch)
	if !slices.Equal(bd.Goos, []string{"darwin", "linux", "windows"}) || !slices.Equal(bd.Goarch, []string{"amd64", "arm64"}) {
		t.Errorf("targets %v × %v, want darwin, linux, windows × amd64, arm64", bd.Goos, bd.Goarch)
	}
	if !slices.Contains(bd.Env, "CGO_ENABLED=0") || !slices.Contains(bd.Flags, "-trimpath") {
		t.Errorf("build env %v flags %v: want static (CGO_ENABLED=0) and -trimpath", bd.Env, bd.Flags)
	}
	if !strings.Contains(strings.Join(bd.Ldflags, " "), "-X main.version=v{{ .Version }}") {
		t.Errorf("ldflags %v do not set main.version from the tag", bd.Ldflags)
	}
	if len(cfg.Archives) == 0 || !slices.Contains(cfg.Archives[0].Files, "LICENSE") {
		t.Fatalf("archives %+v: want one that carries LICENSE", cfg.Archives)
	}
	zip := false
	for _, o := range cfg.Archives[0].FormatOverrides {
		zip = zip || (o.Goos == "windows" && slices.Equal(o.Formats, []string{"zip"}))
	}
	if !zip {
		t.Error("windows archives should be zip")
	}
	if cfg.Checksum.NameTemplate == "" || cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum %+v: want a sha256 checksums file", cfg.Checksum)
	}
}

// TestMCPBManifest builds the bundle manifests with scripts/build-mcpb.sh,
// which checks each with the bundle tool from npm (`mcpb validate`), and
// checks what that schema cannot: the binary per platform, the key as a
// sensitive field reaching CLOSE_API_KEY, real flags, and every tool.
func TestMCPBManifest(t *testing.T) {
	for _, tool := range []string{"bash", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the bundle manifest is validated with the npm bundle tool (Node.js 20+ with npx)", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/build-mcpb.sh", "--manifest-only", "--out", out, "--version", "1.2.3", "darwin/arm64", "windows/amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-mcpb.sh: %v\n%s", err, b)
	} else if strings.Count(string(b), "validation passes") != 2 {
		t.Fatalf("the bundle tool did not pass both manifests:\n%s", b)
	}
	var want []string
	for _, st := range tools.Tools(tools.Deps{}) {
		want = append(want, st.Tool.Name)
	}
	for _, tc := range []struct{ dir, exe, platform string }{
		{"darwin-arm64", "bulkguard", "darwin"},
		{"windows-amd64", "bulkguard.exe", "win32"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(out, "mcpb", tc.dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				License string `json:"license"`
				Server  struct {
					Type       string `json:"type"`
					EntryPoint string `json:"entry_point"`
					MCPConfig  struct {
						Command string            `json:"command"`
						Args    []string          `json:"args"`
						Env     map[string]string `json:"env"`
					} `json:"mcp_config"`
				} `json:"server"`
				UserConfig map[string]struct {
					Type      string `json:"type"`
					Sensitive bool   `json:"sensitive"`
					Required  bool   `json:"required"`
				} `json:"user_config"`
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
				Compatibility struct {
					Platforms []string `json:"platforms"`
				} `json:"compatibility"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Name != "bulkguard" || m.Version != "1.2.3" || m.License != "MIT" {
				t.Errorf("name %q version %q license %q", m.Name, m.Version, m.License)
			}
			if m.Server.Type != "binary" || m.Server.EntryPoint != "server/"+tc.exe || m.Server.MCPConfig.Command != "${__dirname}/server/"+tc.exe {
				t.Errorf("server %+v: want the binary server/%s", m.Server, tc.exe)
			}
			key, ok := m.UserConfig["close_api_key"]
			if !ok || key.Type != "string" || !key.Sensitive || key.Required {
				t.Errorf("user_config.close_api_key = %+v: want an optional sensitive string", key)
			}
			if got := m.Server.MCPConfig.Env[envCloseAPIKey]; got != "${user_config.close_api_key}" {
				t.Errorf("env %s = %q, want the user_config field", envCloseAPIKey, got)
			}
			if _, _, err := parseServe(m.Server.MCPConfig.Args, lookupEnv(nil), nil); err != nil {
				t.Errorf("args %v are not valid bulkguard flags: %v", m.Server.MCPConfig.Args, err)
			}
			var got []string
			for _, tl := range m.Tools {
				got = append(got, tl.Name)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("manifest tools %v, want the server's %v", got, want)
			}
			if !slices.Equal(m.Compatibility.Platforms, []string{tc.platform}) {
				t.Errorf("platforms %v, want [%s]", m.Compatibility.Platforms, tc.platform)
			}
		})
	}
}
