-- lt.lua - tiny assertion helpers for the Lua tests (tests/lua/test_*.lua).
local lt = { passed = 0 }

function lt.ok(cond, msg)
  if not cond then error("check failed: " .. (msg or "?"), 2) end
  lt.passed = lt.passed + 1
end

function lt.eq(a, b, msg)
  if a ~= b then
    error(string.format("check failed: %s: expected %s, got %s", msg or "?", tostring(b),
                        tostring(a)), 2)
  end
  lt.passed = lt.passed + 1
end

-- The call must raise an error whose message contains `pattern` (plain).
function lt.err(pattern, f, ...)
  local ok, e = pcall(f, ...)
  if ok then error("expected an error containing '" .. pattern .. "', got success", 2) end
  e = tostring(e)
  -- "bad argument #N to 'NAME'": called through pcall, Lua names the
  -- function by where it finds it ('betlab.data.load', or '?' for methods)
  local num, name = pattern:match("^bad argument #(%d+) to '([%w_]+)'$")
  local found = e:find(pattern, 1, true)
  if not found and num then
    local got = e:match("bad argument #" .. num .. " to '([^']*)'")
    found = got and (got == "?" or got:sub(-#name - 1) == "." .. name)
  end
  if not found then
    error("expected an error containing '" .. pattern .. "', got: " .. e, 2)
  end
  lt.passed = lt.passed + 1
  return e
end

function lt.tmpdir()
  local d = os.getenv("BL_TEST_TMP")
  if not d then
    d = os.tmpname()
    os.remove(d)
    os.execute("mkdir -p " .. d)
  end
  return d
end

-- A labelled CSV dataset of n rows x nf features (values 0..255, label
-- last, classes 0..k-1), deterministic.
function lt.write_csv(path, n, nf, k)
  local f = assert(io.open(path, "w"))
  local x = 12345
  for i = 1, n do
    local row = {}
    for j = 1, nf do
      x = (x * 1103515245 + 12345) % 2147483648
      row[j] = x % 256
    end
    row[nf + 1] = (i * 7) % k
    f:write(table.concat(row, ","), "\n")
  end
  f:close()
  return path
end

function lt.done(name)
  print(string.format("%s: %d checks passed", name, lt.passed))
end

return lt
