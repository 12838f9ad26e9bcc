// The supervisor's errors. `code` says what went wrong, in OTP's words where OTP has them
// ({error, running}, {error, restarting}, noproc...); a refused child spec or supervisor option
// also names the `problem`, as OTP's start_spec and supervisor_data errors do.

export type SupervisorErrorCode =
  /** A child with this id is running (startChild). */
  | "already_started"
  /** A child with this id is listed but not running: restartChild or deleteChild it first. */
  | "already_present"
  | "not_found"
  /** The child is running (restartChild, deleteChild). */
  | "running"
  /** The child is between failed restart attempts (restartChild, deleteChild). */
  | "restarting"
  | "max_children"
  /** The supervisor has stopped, or is stopping. */
  | "noproc"
  | "start_failed"
  /** Why a supervisor gave up: see `Supervisor.exitCause`. */
  | "max_restart_intensity"
  | "invalid_child_spec"
  | "invalid_options";

/** What is wrong with a refused child spec (OTP's names). */
export type ChildSpecProblem =
  /** Not an object at all (OTP's invalid_child_spec). */
  | "not_a_child_spec"
  | "missing_id"
  | "missing_start"
  | "invalid_restart_type"
  | "invalid_shutdown"
  | "invalid_child_type"
  | "invalid_significant"
  | "bad_combination"
  | "duplicate_child_name";

/** What is wrong with refused supervisor options (OTP's and Elixir's names). */
export type SupervisorOptionProblem =
  | "invalid_strategy"
  | "invalid_intensity"
  | "invalid_period"
  | "invalid_max_children"
  | "invalid_auto_shutdown"
  | "invalid_name";

export class SupervisorError extends Error {
  constructor(
    readonly code: SupervisorErrorCode,
    message: string,
    options?: { cause?: unknown; problem?: ChildSpecProblem | SupervisorOptionProblem },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SupervisorError";
    if (options?.problem) this.problem = options.problem;
  }

  /** For invalid_child_spec and invalid_options: which rule was broken. */
  readonly problem?: ChildSpecProblem | SupervisorOptionProblem;
}
