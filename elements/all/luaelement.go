package all

// LuaElement and LuaFlowHook (scripted elements, package flowbox/lua).
import _ "flowbox/elements/luaelement"
