-- A script must not be able to crash betlab (issue 12, part 3):
--   * closing an object inside a callback of a running call that uses it
--     (m:eval, bl.sweep, bl.train, bl.cluster.exemplar) is refused with an
--     error, and the call still finishes (clean under ASan);
--   * userdata with a swapped metatable (debug.setmetatable) is an
--     argument error naming both kinds, never a read of the wrong struct;
--   * sizes are bounded up front: plot widths, architecture specs.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local lt = require "lt"
local bl = require "betlab"
local dir = lt.tmpdir()
local ds = bl.data.load(lt.write_csv(dir .. "/d.csv", 120, 16, 4))
local m = bl.model.random("16-24-4", 3)

-- ---------------------------------------------------------- close in callbacks
local function try_close(obj, errs)
  local ok, e = pcall(obj.close, obj)
  if ok then errs[#errs + 1] = "closed" else errs[#errs + 1] = tostring(e) end
end

do -- m:eval: closing the model or the data inside on_progress
  local errs = {}
  local r = m:eval(ds, { fault = "bitflip:p=0.01", reps = 3, on_progress = function()
    try_close(m, errs)
    try_close(ds, errs)
    collectgarbage()
  end })
  lt.ok(#errs >= 2, "eval: on_progress was called")
  for _, e in ipairs(errs) do
    lt.ok(e:find("is in use by a running call", 1, true), "eval: close refused: " .. e)
  end
  lt.ok(r.accuracy >= 0 and r.accuracy <= 1, "eval still gives its result")
  lt.eq(m:checksum() ~= 0, true, "the model is still open after the call")
  lt.eq(#ds, 120, "the dataset is still open after the call")
end

do -- bl.sweep: closing, and dropping the last references from the option table
  local mm = m:clone()
  local errs = {}
  local opts = { model = mm, data = ds:subset(1, 60), ber = { 0, 0.01, 0.1 }, reps = 2 }
  opts.on_progress = function()
    if opts.model then
      try_close(opts.model, errs)
      try_close(opts.data, errs)
      opts.model, opts.data = nil, nil   -- the only references
      mm = nil
      collectgarbage(); collectgarbage()
    end
  end
  local sw = bl.sweep(opts)
  lt.eq(#errs, 2, "sweep: both closes tried")
  for _, e in ipairs(errs) do
    lt.ok(e:find("is in use by a running call", 1, true), "sweep: close refused: " .. e)
  end
  lt.eq(#sw, 3, "sweep still gives its rows")
  collectgarbage(); collectgarbage()   -- now they may go
end

do -- bl.train: closing the training and test data inside on_epoch / on_progress
  local tr, te = ds:subset(1, 80), ds:subset(81, 120)
  local errs = {}
  local mt = bl.train{ arch = "16-8-4", data = tr, test = te, epochs = 2, batch = 16, seed = 1,
    on_epoch = function() try_close(tr, errs) end,
    on_progress = function() try_close(te, errs) end }
  lt.ok(#errs >= 2, "train: callbacks called")
  for _, e in ipairs(errs) do
    lt.ok(e:find("is in use by a running call", 1, true), "train: close refused: " .. e)
  end
  lt.ok(mt:checksum() ~= 0, "train still gives its model")
  tr:close(); te:close()
  lt.err("dataset is closed", function() return #tr end)
end

do -- bl.cluster.exemplar: the dataset it clusters
  local errs = {}
  local r = bl.cluster.exemplar(ds, { k = 3, on_progress = function() try_close(ds, errs) end })
  lt.ok(#errs >= 1, "cluster: on_progress called")
  for _, e in ipairs(errs) do
    lt.ok(e:find("is in use by a running call", 1, true), "cluster: close refused: " .. e)
  end
  lt.eq(#r.exemplars, 3, "cluster still gives its exemplars")
end

do -- an error in the callback after a refused close still releases the objects
  local mm = m:clone()
  lt.err("stop here", function()
    return mm:eval(ds, { fault = "bitflip:p=0.01", reps = 2, on_progress = function()
      error("stop here")
    end })
  end)
  mm:close()   -- not busy any more
  lt.err("model is closed", function() return mm:checksum() end)
end

-- ---------------------------------------------------------- forged userdata
local f = bl.fault.new("bitflip:p=0.1", m)
local sw = bl.sweep{ model = m, data = ds, ber = { 0 }, reps = 1 }
local j = bl.job.eval(m, ds, { limit = 10 })
j:wait()
local victims = { model = m:clone(), dataset = ds:subset(1, 10), sweep = sw, job = j, fault = f }
local metas = { model = getmetatable(m), dataset = getmetatable(ds), sweep = getmetatable(sw),
                job = getmetatable(j), fault = getmetatable(f) }
local methods = { model = "info", dataset = "info", sweep = "info", job = "state", fault = "text" }
for vk, v in pairs(victims) do
  local own = getmetatable(v)
  for mk, mt in pairs(metas) do
    if mk ~= vk then
      debug.setmetatable(v, mt)
      local e = lt.err("betlab." .. mk .. " expected, got betlab." .. vk, function()
        return v[methods[mk]](v)
      end)
      lt.ok(e:find("bad argument", 1, true) or e:find("bad self", 1, true), "argument error: " .. e)
      lt.err("betlab." .. mk .. " expected, got betlab." .. vk, function() return tostring(v) end)
      lt.err("betlab." .. mk .. " expected", function() return mt.__index.close(v) end)
      debug.setmetatable(v, own)
    end
  end
  lt.ok(tostring(v):find(vk, 1, true), "the real object still works: " .. tostring(v))
end
-- a forged object passed as an argument, and a collected forged object
local fake = ds:subset(1, 5)
debug.setmetatable(fake, getmetatable(m))
lt.err("betlab.model expected, got betlab.dataset", function() return fake:eval(ds) end)
lt.err("betlab.dataset expected, got betlab.dataset with a replaced metatable", function()
  return m:eval(fake)
end)
lt.err("field 'model' must be a model", function()
  return bl.sweep{ model = fake, data = ds, ber = { 0 } }
end)
fake = nil
collectgarbage(); collectgarbage()   -- its __gc must not free a dataset as a model
local t = setmetatable({}, getmetatable(m))
lt.err("betlab.model expected, got table", function() return t:info() end)
lt.err("betlab.model expected, got betlab.dataset", function() return m.close(ds) end)

-- ---------------------------------------------------------- bounded sizes
lt.err("field 'width' must be an integer in 1..400", bl.plot.bars, { "a" }, { 1 }, { width = 2e7 })
lt.err("field 'width' must be an integer in 1..400", bl.plot.bars, { "a" }, { 1 }, { width = 1e9 })
lt.err("field 'width' must be an integer in 1..400", bl.plot.bars, { "a" }, { 1 }, { width = 0 })
lt.err("value 1 must be a finite number", bl.plot.bars, { "a" }, { 0 / 0 })
lt.ok(#bl.plot.bars({ "a", "b" }, { 1, 2 }, { width = 400 }) < 1000, "bars at the widest")
lt.err("field 'width' must be an integer in 10..400", bl.plot.lines,
       { series = { { x = { 1, 2 }, y = { 1, 2 } } }, width = 1e9 })
lt.err("field 'width' must be an integer in 10..400", bl.plot.curve, { 1, 2 }, { 1, 2 },
       { width = 2e7 })
local hs = m:margins(ds)
lt.err("field 'bars' must be an integer in 1..400", function() return hs[1]:plot{ bars = 1e9 } end)
lt.err("field 'width' must be an integer in 1..400", function() return hs[1]:plot{ width = 1e9 } end)
lt.err("field 'width' must be an integer in 10..400", function() return sw:plot{ width = 1e9 } end)
-- an architecture spec summing to many GiB: rejected before allocating
local t0 = os.clock()
lt.err("at most 4 GiB in all", bl.model.random, "120000-120000-120000-120000-10")
lt.err("at most 4 GiB in all", function()
  return bl.train{ arch = "16-200000-200000-200000-4", data = ds }
end)
lt.ok(os.clock() - t0 < 2, "rejected up front")
-- clustering data too wide or too large in all, named
lt.err("at most 16384 values per point", bl.cluster.exemplar, "blobs:10,20000,2", { k = 1 })
lt.err("GiB as doubles", bl.cluster.exemplar, "blobs:1000000,1000,3", { k = 1 })
local wide = {}
for i = 1, 16385 do wide[i] = 0 end
lt.err("at most 16384 values per point", bl.cluster.exemplar, { wide, wide }, { k = 1 })

-- a model's name is data: tostring shows its control bytes escaped
do
  local hm = bl.model.random("6-4-3", 1)
  hm:set_meta("name", "a\27]0;title\7b")
  local t = tostring(hm)
  assert(not t:find("\27", 1, true) and not t:find("\7", 1, true), "control bytes in tostring")
  assert(t:find("\\x1b", 1, true), "escaped ESC shown")
end

-- bl.csv.write saves like every betlab file: through a symbolic link (the
-- link stays), a device's write error reported
do
  local d = lt.tmpdir()
  local f = assert(io.open(d .. "/real.csv", "w")); f:write("old\n"); f:close()
  assert(os.execute("ln -s real.csv " .. d .. "/link.csv"))
  bl.csv.write(d .. "/link.csv", { "a" }, { { 1 } })
  local t = assert(io.open(d .. "/real.csv")):read("a")
  assert(t == "a\r\n1\r\n", "written through the link: " .. t)
  local p = io.popen("test -L " .. d .. "/link.csv && echo link"):read("l")
  assert(p == "link", "the link is still a link")
  lt.err("No space left", bl.csv.write, "/dev/full", { "a" }, { { 1 } })
end

lt.done("test_safety")
