// Command argocd-lua runs an Argo CD resource customization script (health check, action discovery or action)
// against one object the way Argo CD's util/lua does, so the project's scripts are tested under the interpreter
// Argo CD embeds (gopher-lua) and its sandbox rather than under a stock Lua:
//
//   - a fresh state with no standard library, then only package, base and table opened, plus Argo CD's "safe"
//     os library (os.time and os.date, nothing that touches files, processes or the environment);
//   - the object, read as JSON, decoded into Lua tables and set as the global `obj`;
//   - a budget of one second for the whole script (a context on the state);
//   - the value the script returns encoded back to JSON: for `health` checked against Argo CD's health codes
//     (an unknown code becomes Unknown, as Argo CD reports it), for `action` the modified object with the empty
//     tables that were objects before turned back into objects, for `discovery` the table of actions.
//
// Usage: argocd-lua health|discovery|action SCRIPT.lua < object.json > result.json
// Flags: -now RFC3339 fixes the clock os.time and os.date read (tests); -timeout overrides the 1 s budget.
// Errors go to stderr with exit code 1, like the error Argo CD shows in its UI.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Argo CD's health codes (gitops-engine pkg/health).
var healthCodes = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	now := flag.String("now", "", "RFC3339 time that os.time and os.date report (default: the real clock)")
	timeout := flag.Duration("timeout", time.Second, "time budget of the script (Argo CD: 1s)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua [-now RFC3339] [-timeout D] health|discovery|action SCRIPT.lua < object.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	clock := time.Now
	if *now != "" {
		fixed, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			fail(fmt.Errorf("-now: %w", err))
		}
		clock = func() time.Time { return fixed }
	}
	out, err := run(flag.Arg(0), flag.Arg(1), os.Stdin, clock, *timeout)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(append(out, '\n'))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "argocd-lua:", err)
	os.Exit(1)
}

func run(mode, scriptPath string, input io.Reader, clock func() time.Time, timeout time.Duration) ([]byte, error) {
	if mode != "health" && mode != "discovery" && mode != "action" {
		return nil, fmt.Errorf("unknown mode %q (health, discovery or action)", mode)
	}
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	var object map[string]any
	decoder := json.NewDecoder(input)
	if err := decoder.Decode(&object); err != nil {
		return nil, fmt.Errorf("the object on stdin is not a JSON object: %w", err)
	}
	returned, err := execute(string(script), object, clock, timeout)
	if err != nil {
		return nil, err
	}
	switch mode {
	case "health":
		return healthResult(returned)
	case "discovery":
		return json.Marshal(returned)
	default:
		changed, ok := returned.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expect an object from the action script, not %T", returned)
		}
		return json.Marshal(restoreEmptyObjects(changed, object))
	}
}

// execute runs the script in the sandbox described at the top and returns what it returned, decoded.
func execute(script string, object map[string]any, clock func() time.Time, timeout time.Duration) (any, error) {
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	safeOs := safeOsFunctions(clock)
	libraries := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, func(l *lua.LState) int {
			l.Push(l.RegisterModule(lua.OsLibName, safeOs))
			return 1
		}},
	}
	for _, library := range libraries {
		call := lua.P{Fn: state.NewFunction(library.open), NRet: 0, Protect: true}
		if err := state.CallByParam(call, lua.LString(library.name)); err != nil {
			return nil, fmt.Errorf("opening %s: %w", library.name, err)
		}
	}
	// `local os = require("os")` works in Argo CD too.
	state.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOs))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	state.SetContext(ctx)
	state.SetGlobal("obj", toLua(state, object))
	if err := state.DoString(script); err != nil {
		return nil, err
	}
	returned := state.Get(-1)
	if returned.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", returned.Type())
	}
	return fromLua(returned)
}

func healthResult(returned any) ([]byte, error) {
	fields, ok := returned.(map[string]any)
	if !ok {
		return nil, errors.New("expect a table with status and message from the health script")
	}
	status, _ := fields["status"].(string)
	if !healthCodes[status] {
		return json.Marshal(map[string]string{"status": "Unknown", "message": "Lua returned an invalid health status"})
	}
	message, _ := fields["message"].(string)
	return json.Marshal(map[string]string{"status": status, "message": message})
}

// toLua turns decoded JSON into Lua values; JSON null becomes nil, so the key is absent, as in Argo CD.
func toLua(state *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		table := state.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(state, item))
		}
		return table
	case map[string]any:
		table := state.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(state, item))
		}
		return table
	}
	return lua.LNil
}

// fromLua turns a Lua value back into JSON-ready Go values. A table whose keys are exactly 1..n is an array; a
// table without keys is an empty array (Lua cannot tell {} from []; Argo CD's encoder makes the same choice);
// any other table needs string keys.
func fromLua(value lua.LValue) (any, error) {
	switch v := value.(type) {
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		number := float64(v)
		if math.IsNaN(number) || math.IsInf(number, 0) {
			return nil, fmt.Errorf("cannot encode %v as JSON", number)
		}
		return number, nil
	case lua.LString:
		return string(v), nil
	case *lua.LNilType:
		return nil, nil
	case *lua.LTable:
		return tableFromLua(v)
	}
	return nil, fmt.Errorf("cannot encode a Lua %s as JSON", value.Type())
}

func tableFromLua(table *lua.LTable) (any, error) {
	count, length := 0, table.Len()
	var keyErr error
	table.ForEach(func(key, _ lua.LValue) {
		count++
		if _, isString := key.(lua.LString); !isString {
			if _, isNumber := key.(lua.LNumber); !isNumber && keyErr == nil {
				keyErr = fmt.Errorf("cannot encode a table with a %s key as JSON", key.Type())
			}
		}
	})
	if keyErr != nil {
		return nil, keyErr
	}
	if count == length {
		array := make([]any, 0, length)
		for i := 1; i <= length; i++ {
			item, err := fromLua(table.RawGetInt(i))
			if err != nil {
				return nil, err
			}
			array = append(array, item)
		}
		return array, nil
	}
	object := map[string]any{}
	var err error
	table.ForEach(func(key, item lua.LValue) {
		if err != nil {
			return
		}
		name, isString := key.(lua.LString)
		if !isString {
			err = errors.New("cannot encode a table mixing array and object keys as JSON")
			return
		}
		object[string(name)], err = fromLua(item)
	})
	return object, err
}

// restoreEmptyObjects undoes the {}-becomes-[] ambiguity for what the action returns: where the original object
// had an object and the script returned an empty array, the original object stands, as Argo CD does before it
// patches, so that an action never turns `metadata.annotations: {}` into a list.
func restoreEmptyObjects(changed, original map[string]any) map[string]any {
	for key, before := range original {
		after, present := changed[key]
		if !present {
			continue
		}
		switch afterValue := after.(type) {
		case map[string]any:
			if beforeMap, ok := before.(map[string]any); ok {
				changed[key] = restoreEmptyObjects(afterValue, beforeMap)
			}
		case []any:
			switch beforeValue := before.(type) {
			case map[string]any:
				if len(afterValue) == 0 {
					changed[key] = beforeValue
				}
			case []any:
				for i := range afterValue {
					if i >= len(beforeValue) {
						break
					}
					afterItem, okAfter := afterValue[i].(map[string]any)
					beforeItem, okBefore := beforeValue[i].(map[string]any)
					if okAfter && okBefore {
						afterValue[i] = restoreEmptyObjects(afterItem, beforeItem)
					}
				}
			}
		}
	}
	return changed
}

// safeOsFunctions are the two os functions Argo CD gives scripts: os.time() and os.date(format), with the clock
// injected. os.date knows the strftime flags scripts use for timestamps; "!" means UTC.
func safeOsFunctions(clock func() time.Time) map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"time": func(l *lua.LState) int {
			l.Push(lua.LNumber(clock().Unix()))
			return 1
		},
		"date": func(l *lua.LState) int {
			format := l.OptString(1, "%c")
			moment := clock().Local()
			if strings.HasPrefix(format, "!") {
				moment = moment.UTC()
				format = format[1:]
			}
			if l.GetTop() >= 2 {
				moment = time.Unix(l.CheckInt64(2), 0).In(moment.Location())
			}
			l.Push(lua.LString(strftime(moment, format)))
			return 1
		},
	}
}

var strftimeLayouts = map[byte]string{
	'a': "Mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
	'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'S': "05",
	'T': "15:04:05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

func strftime(moment time.Time, format string) string {
	var out bytes.Buffer
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i == len(format)-1 {
			out.WriteByte(format[i])
			continue
		}
		i++
		if layout, ok := strftimeLayouts[format[i]]; ok {
			out.WriteString(moment.Format(layout))
		} else if format[i] == '%' {
			out.WriteByte('%')
		} else {
			out.WriteByte('%')
			out.WriteByte(format[i])
		}
	}
	return out.String()
}
