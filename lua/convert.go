package lua

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// ArgsTable builds init's argument table from words: "key=value" words
// become fields, others the array part; numeric values become numbers.
// A value with commas ("ports=1,2,3") becomes an array.
func ArgsTable(L *glua.LState, words []string) *glua.LTable {
	t := L.NewTable()
	for _, w := range words {
		if uq, err := unquoteWord(w); err == nil {
			w = uq
		}
		if k, v, ok := strings.Cut(w, "="); ok && k != "" {
			if strings.Contains(v, ",") {
				arr := L.NewTable()
				for _, x := range strings.Split(v, ",") {
					arr.Append(scalar(strings.TrimSpace(x)))
				}
				t.RawSetString(k, arr)
			} else {
				t.RawSetString(k, scalar(v))
			}
			continue
		}
		t.Append(scalar(w))
	}
	return t
}

func unquoteWord(w string) (string, error) {
	if len(w) >= 2 && (w[0] == '"' || w[0] == '\'') {
		return strconv.Unquote(`"` + w[1:len(w)-1] + `"`)
	}
	return w, nil
}

func scalar(s string) glua.LValue {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return glua.LNumber(f)
	}
	switch s {
	case "true":
		return glua.LTrue
	case "false":
		return glua.LFalse
	}
	return glua.LString(s)
}

// ToLua converts a Go value (nil, bool, numbers, string, []any, []string,
// map[string]any, map[string]string) to a Lua value.
func ToLua(L *glua.LState, v any) glua.LValue {
	switch x := v.(type) {
	case nil:
		return glua.LNil
	case glua.LValue:
		return x
	case bool:
		return glua.LBool(x)
	case int:
		return glua.LNumber(x)
	case int64:
		return glua.LNumber(x)
	case int32:
		return glua.LNumber(x)
	case uint:
		return glua.LNumber(x)
	case uint64:
		return glua.LNumber(x)
	case uint32:
		return glua.LNumber(x)
	case uint16:
		return glua.LNumber(x)
	case uint8:
		return glua.LNumber(x)
	case float64:
		return glua.LNumber(x)
	case float32:
		return glua.LNumber(x)
	case string:
		return glua.LString(x)
	case []byte:
		return glua.LString(x)
	case []string:
		t := L.CreateTable(len(x), 0)
		for _, s := range x {
			t.Append(glua.LString(s))
		}
		return t
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(ToLua(L, e))
		}
		return t
	case []map[string]any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(ToLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, ToLua(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, glua.LString(e))
		}
		return t
	case fmt.Stringer:
		return glua.LString(x.String())
	}
	return glua.LString(fmt.Sprint(v))
}

// FromLua converts a Lua value to Go: tables with only 1..n keys become
// []any, other tables map[string]any (non-string keys are formatted);
// functions and userdata become their type name.
func FromLua(v glua.LValue) any {
	return fromLua(v, 0)
}

func fromLua(v glua.LValue, depth int) any {
	switch x := v.(type) {
	case *glua.LNilType:
		return nil
	case glua.LBool:
		return bool(x)
	case glua.LNumber:
		if float64(x) == float64(int64(x)) {
			return int64(x)
		}
		return float64(x)
	case glua.LString:
		return string(x)
	case *glua.LTable:
		if depth > 32 {
			return "table"
		}
		n := x.Len()
		isArr := true
		count := 0
		x.ForEach(func(k, _ glua.LValue) {
			count++
			if kn, ok := k.(glua.LNumber); !ok || kn < 1 || int(kn) > n {
				isArr = false
			}
		})
		if isArr && count == n && n > 0 {
			out := make([]any, n)
			for i := 1; i <= n; i++ {
				out[i-1] = fromLua(x.RawGetInt(i), depth+1)
			}
			return out
		}
		m := map[string]any{}
		x.ForEach(func(k, e glua.LValue) { m[k.String()] = fromLua(e, depth+1) })
		return m
	}
	return v.Type().String()
}

// format renders results the way the shell prints them.
func format(vals []glua.LValue) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = formatValue(v, 0)
	}
	return strings.Join(parts, "\t")
}

func formatValue(v glua.LValue, depth int) string {
	t, ok := v.(*glua.LTable)
	if !ok || depth > 3 {
		return v.String()
	}
	var keys []string
	vals := map[string]string{}
	n := t.Len()
	var arr []string
	for i := 1; i <= n; i++ {
		arr = append(arr, formatValue(t.RawGetInt(i), depth+1))
	}
	t.ForEach(func(k, e glua.LValue) {
		if kn, ok := k.(glua.LNumber); ok && kn >= 1 && int(kn) <= n && float64(kn) == float64(int(kn)) {
			return
		}
		ks := k.String()
		keys = append(keys, ks)
		vals[ks] = formatValue(e, depth+1)
	})
	sort.Strings(keys)
	for _, k := range keys {
		arr = append(arr, k+"="+vals[k])
	}
	return "{" + strings.Join(arr, ", ") + "}"
}
