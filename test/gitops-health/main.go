// gitops-health judges a Kubernetes object the way GitOps tools do, for sluice's tests:
//
//	gitops-health kstatus < object.json      sigs.k8s.io/cli-utils' kstatus (Flux's health checks)
//	gitops-health lua SCRIPT < object.json    an Argo CD health script, run by gopher-lua as Argo CD runs it
//
// It prints {"status": ..., "message": ...} and exits 0; a bad input exits 2 with the reason.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gitops-health: "+format+"\n", args...)
	os.Exit(2)
}

// toLua turns decoded JSON into Lua values: objects and arrays become tables (arrays 1-based).
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []any:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	return lua.LNil
}

func runLua(script string, obj map[string]any) verdict {
	src, err := os.ReadFile(script)
	if err != nil {
		fail("%v", err)
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(string(src)); err != nil {
		fail("the script failed: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		fail("the script returned no table")
	}
	return verdict{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gitops-health kstatus|lua SCRIPT < object.json")
	}
	raw, err := io.ReadAll(io.LimitReader(os.Stdin, 8<<20))
	if err != nil {
		fail("%v", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		fail("stdin is not a JSON object: %v", err)
	}
	var v verdict
	switch os.Args[1] {
	case "kstatus":
		// The apimachinery decoder, as Flux reads objects: integers stay int64, as kstatus expects.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			fail("not a Kubernetes object: %v", err)
		}
		res, err := status.Compute(u)
		if err != nil {
			fail("kstatus: %v", err)
		}
		v = verdict{Status: res.Status.String(), Message: res.Message}
	case "lua":
		if len(os.Args) < 3 {
			fail("lua needs the script's path")
		}
		v = runLua(os.Args[2], obj)
	default:
		fail("unknown mode %q", os.Args[1])
	}
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}
