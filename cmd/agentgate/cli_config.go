package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// configPath is the CLI's config file: $AGENTGATE_CONFIG, else
// ~/.agentgate/config.json (the upstream CLI's place, so its file keeps
// working).
func (a *cliApp) configPath() (string, error) {
	if p := a.getenv("AGENTGATE_CONFIG"); p != "" {
		return p, nil
	}
	home := a.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", &exitError{code: codeError, msg: "cannot find the home directory for ~/.agentgate/config.json: set HOME or AGENTGATE_CONFIG"}
		}
	}
	return filepath.Join(home, ".agentgate", "config.json"), nil
}

// configKeys are the settings the file holds, by canonical name, with
// the names also accepted (the upstream CLI wrote serverUrl).
var configKeys = map[string][]string{
	"url":    {"url", "serverUrl", "server-url", "server_url"},
	"apiKey": {"apiKey", "api-key", "api_key"},
}

// canonicalKey maps a user-given key name to its canonical name.
func canonicalKey(name string) (string, bool) {
	for k, aliases := range configKeys {
		for _, al := range aliases {
			if strings.EqualFold(name, al) {
				return k, true
			}
		}
	}
	return "", false
}

// configFile is the JSON config file. Members the CLI does not know (the
// upstream's timeout and outputFormat) are kept as they are on rewrite.
type configFile struct {
	path   string
	fields map[string]json.RawMessage
	mode   fs.FileMode // 0 when the file does not exist
}

func loadConfigFile(path string) (*configFile, error) {
	f := &configFile{path: path, fields: map[string]json.RawMessage{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the config file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil {
		f.mode = fi.Mode().Perm()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(data, &f.fields); err != nil {
		return nil, fmt.Errorf("the config file %s is not a JSON object (%v): fix or delete it", path, err)
	}
	if f.fields == nil {
		f.fields = map[string]json.RawMessage{}
	}
	return f, nil
}

// get returns the value of a canonical key, reading its aliases too.
func (f *configFile) get(key string) (string, bool) {
	for _, name := range configKeys[key] {
		raw, ok := f.fields[name]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return s, true
		}
	}
	return "", false
}

// set stores a canonical key under its canonical name, dropping aliases.
func (f *configFile) set(key, value string) {
	f.unset(key)
	b, _ := json.Marshal(value)
	f.fields[key] = b
}

func (f *configFile) unset(key string) {
	for _, name := range configKeys[key] {
		delete(f.fields, name)
	}
}

// save writes the file atomically with mode 0600, creating its directory
// with mode 0700: it holds an API key.
func (f *configFile) save() error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	data, err := json.MarshalIndent(f.fields, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("write the config file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write the config file: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write the config file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the config file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("write the config file: %w", err)
	}
	f.mode = 0o600
	return nil
}

// permissionWarning says when a file holding a key is readable by others.
func (f *configFile) permissionWarning() string {
	if _, ok := f.get("apiKey"); !ok || f.mode&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("%s holds an API key and is readable by other users (mode %04o): run chmod 600 %s", f.path, f.mode, f.path)
}

// maskKey shows enough of a key to recognise it: agk_abcd…wxyz.
func maskKey(k string) string {
	if k == "" {
		return ""
	}
	prefix := ""
	rest := k
	if strings.HasPrefix(k, "agk_") {
		prefix, rest = "agk_", k[4:]
	}
	if len(rest) < 12 {
		return prefix + strings.Repeat("•", 4)
	}
	return prefix + rest[:4] + "…" + rest[len(rest)-4:]
}

// checkURL validates a server URL as the SDK will.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not a server URL: want http://host[:port] or https://host[/prefix]", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not hold credentials, a query or a fragment", s)
	}
	return nil
}

func (a *cliApp) configCmd() *cobra.Command {
	keyNames := "url (also serverUrl) or apiKey"
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the settings in effect and where each comes from",
		Example: `  agentgate config show
  AGENTGATE_URL=https://agentgate.example.com agentgate config show --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.resolve(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if a.jsonOut {
				return printValue(out, map[string]any{
					"configFile": s.ConfigPath,
					"url":        map[string]string{"value": s.URL, "source": s.URLSource},
					"apiKey":     map[string]string{"value": maskKey(s.APIKey), "source": s.APIKeySource},
				})
			}
			p := palette{on: a.colorOn(out)}
			exists := " (not created yet)"
			if s.File.mode != 0 {
				exists = ""
			}
			t := newTable(out, p, "SETTING", "VALUE", "FROM")
			t.header = nil
			t.add("config file", s.ConfigPath+exists, "")
			t.add("url", s.URL, s.URLSource)
			key := maskKey(s.APIKey)
			if key == "" {
				key = p.yellow("(none)")
			}
			t.add("apiKey", key, s.APIKeySource)
			return t.flush()
		},
	}
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print the value in effect of one setting (" + keyNames + ")",
		Long: `Print the value in effect of one setting: url (also accepted as serverUrl)
or apiKey, after the precedence --flag > environment > config file >
default. The API key is printed in full, for scripts.`,
		Example: `  agentgate config get url
  curl -H "Authorization: Bearer $(agentgate config get apiKey)" "$(agentgate config get url)/api/me"`,
		Args:      usageArgs(cobra.ExactArgs(1)),
		ValidArgs: []string{"url", "apiKey"},
		RunE: func(cmd *cobra.Command, args []string) error {
			key, ok := canonicalKey(args[0])
			if !ok {
				return usageErrorf(cmd, "unknown setting %q: want %s", args[0], keyNames)
			}
			s, err := a.resolve(cmd)
			if err != nil {
				return err
			}
			v := s.URL
			if key == "apiKey" {
				v = s.APIKey
			}
			if v == "" {
				return &exitError{code: codeError, msg: key + " is not set"}
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	}
	set := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Store a setting in the config file (" + keyNames + ")",
		Long: `Store a setting in the config file (created with mode 0600 in a 0700
directory). VALUE "-" reads the value from standard input, which keeps an
API key out of your shell history.`,
		Example: `  agentgate config set url https://agentgate.example.com
  agentgate config set apiKey agk_...
  pbpaste | agentgate config set apiKey -`,
		Args:      usageArgs(cobra.ExactArgs(2)),
		ValidArgs: []string{"url", "apiKey"},
		RunE: func(cmd *cobra.Command, args []string) error {
			key, ok := canonicalKey(args[0])
			if !ok {
				return usageErrorf(cmd, "unknown setting %q: want %s", args[0], keyNames)
			}
			value := args[1]
			if value == "-" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				value = line
			}
			value = strings.TrimSpace(value)
			switch {
			case value == "":
				return usageErrorf(cmd, "empty value: use `agentgate config unset %s` to remove a setting", key)
			case key == "url":
				if err := checkURL(value); err != nil {
					return usageErrorf(cmd, "%v", err)
				}
				value = strings.TrimRight(value, "/")
			case key == "apiKey" && strings.ContainsFunc(value, func(r rune) bool { return r <= ' ' || r == 0x7f }):
				return usageErrorf(cmd, "the API key contains spaces or control characters")
			}
			path, err := a.configPath()
			if err != nil {
				return err
			}
			f, err := loadConfigFile(path)
			if err != nil {
				return &exitError{code: codeError, msg: err.Error()}
			}
			f.set(key, value)
			if err := f.save(); err != nil {
				return &exitError{code: codeError, msg: err.Error()}
			}
			shown := value
			if key == "apiKey" {
				shown = maskKey(value)
			}
			if !a.quiet {
				fmt.Fprintf(cmd.OutOrStdout(), "%s = %s (saved in %s)\n", key, shown, path)
			}
			env := map[string]string{"url": "AGENTGATE_URL", "apiKey": "AGENTGATE_API_KEY"}[key]
			if a.getenv(env) != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentgate: note: %s is set in the environment and takes precedence over the file\n", env)
			}
			return nil
		},
	}
	unset := &cobra.Command{
		Use:       "unset KEY",
		Short:     "Remove a setting from the config file",
		Example:   `  agentgate config unset apiKey`,
		Args:      usageArgs(cobra.ExactArgs(1)),
		ValidArgs: []string{"url", "apiKey"},
		RunE: func(cmd *cobra.Command, args []string) error {
			key, ok := canonicalKey(args[0])
			if !ok {
				return usageErrorf(cmd, "unknown setting %q: want %s", args[0], keyNames)
			}
			path, err := a.configPath()
			if err != nil {
				return err
			}
			f, err := loadConfigFile(path)
			if err != nil {
				return &exitError{code: codeError, msg: err.Error()}
			}
			if _, ok := f.get(key); !ok {
				return nil
			}
			f.unset(key)
			if err := f.save(); err != nil {
				return &exitError{code: codeError, msg: err.Error()}
			}
			return nil
		},
	}
	path := &cobra.Command{
		Use:     "path",
		Short:   "Print the config file's path",
		Example: `  agentgate config path`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.configPath()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
	return groupCmd("config", "Show and change the CLI's settings (server URL, API key)",
		`Show and change the CLI's settings: the server URL and the API key.

Each setting is taken from the first of:
  1. the flags --url and --api-key
  2. the environment: AGENTGATE_URL, AGENTGATE_API_KEY
  3. the config file: ~/.agentgate/config.json, or $AGENTGATE_CONFIG
  4. the default: url `+defaultURL+`

The file is JSON ({"url": "...", "apiKey": "agk_..."}; the upstream CLI's
"serverUrl" is read too), written with mode 0600 in a 0700 directory.`,
		show, get, set, unset, path)
}
