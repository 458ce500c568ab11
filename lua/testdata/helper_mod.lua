-- A module loaded by sandbox_test.lua through require.
local M = {}
function M.double(x) return 2 * x end
function M.escape() return os.execute("id") end
return M
