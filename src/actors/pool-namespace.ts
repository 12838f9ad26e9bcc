// `CapnWeb.Pool`: the namespace users write `Pool.spec({...})` against.
export { spec, type PoolSpecOptions } from "./pool.js";
