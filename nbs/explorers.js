// The distillation math of distill_edu in plain JavaScript, for the live sliders of the static
// course website (nbs/06_live_sliders.ipynb imports it in its ```{ojs} blocks).
// Each function mirrors a Python function of the library; tests/test_ojs_math.py evaluates
// them with node on nbs/live_sliders.json and compares with the Python results.
// One logit row is an array of numbers (one position, the vocabulary along the array).

function checkTemperature(T) {
  if (!(Number.isFinite(T) && T > 0)) throw new RangeError(`temperature must be a finite number > 0, got ${T}`);
  return T;
}

function checkAlpha(alpha) {
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be a number in [0, 1], got ${alpha}`);
  return alpha;
}

function checkSameLength(a, b) {
  if (a.length !== b.length) throw new RangeError(`student and teacher logits differ in length: ${a.length} vs ${b.length}`);
}

/** log softmax(z / T), computed stably (mirrors distill_edu.core.log_softmax_t). */
export function logSoftmaxT(logits, T = 1) {
  checkTemperature(T);
  const x = logits.map((z) => z / T);
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
  return x.map((v) => v - lse);
}

/** softmax(z / T) (mirrors distill_edu.core.softmax_t). */
export function softmaxT(logits, T = 1) {
  return logSoftmaxT(logits, T).map(Math.exp);
}

/** Entropy -sum p log p in nats, with 0 log 0 = 0 (mirrors distill_edu.core.entropy). */
export function entropy(probs) {
  return -probs.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
}

/** The largest probability of a distribution. */
export function maxProb(probs) {
  return Math.max(...probs);
}

/** T^2 KL(softmax(teacher/T) || softmax(student/T)) for one position (mirrors distill_edu.losses.kld_loss). */
export function klDiv(studentLogits, teacherLogits, T = 2) {
  checkSameLength(studentLogits, teacherLogits);
  const logp = logSoftmaxT(teacherLogits, T), logq = logSoftmaxT(studentLogits, T);
  const kl = logp.reduce((s, lp, i) => s + (lp > -Infinity ? Math.exp(lp) * (lp - logq[i]) : 0), 0);
  return T * T * kl;
}

/** Mean squared logit difference (mirrors distill_edu.losses.mse_logit_loss). */
export function mseLogits(studentLogits, teacherLogits) {
  checkSameLength(studentLogits, teacherLogits);
  return studentLogits.reduce((s, z, i) => s + (z - teacherLogits[i]) ** 2, 0) / studentLogits.length;
}

/** Cross entropy of the student (T = 1) against the hard label's index: the hard loss. */
export function crossEntropy(studentLogits, label) {
  if (!(Number.isInteger(label) && label >= 0 && label < studentLogits.length))
    throw new RangeError(`label must be an index into the logits, got ${label}`);
  return -logSoftmaxT(studentLogits, 1)[label];
}

/** The soft loss called `name` ("kld" or "mse"). */
export function softLoss(name, studentLogits, teacherLogits, T = 2) {
  if (name === "kld") return klDiv(studentLogits, teacherLogits, T);
  if (name === "mse") return mseLogits(studentLogits, teacherLogits);
  throw new RangeError(`unknown soft loss ${JSON.stringify(name)}; choose "kld" or "mse"`);
}

/** alpha * hard + (1 - alpha) * soft (mirrors distill_edu.losses.balanced_loss; a term with weight 0 is left out). */
export function balancedLoss(hardLoss, teacherLogits, studentLogits, soft = "kld", alpha = 0.5, T = 2) {
  checkAlpha(alpha);
  if (alpha === 1) return hardLoss;
  const s = softLoss(soft, studentLogits, teacherLogits, T);
  return alpha === 0 ? s : alpha * hardLoss + (1 - alpha) * s;
}

/** Solve A x = b by Gaussian elimination with partial pivoting (A is small and square; neither is changed). */
function solve(A, b) {
  const n = b.length, M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** diag(p) - p p^T: the Hessian of cross entropy against a fixed target with respect to the logits. */
function softmaxHessian(p) {
  return p.map((pi, i) => p.map((pj, j) => (i === j ? pi : 0) - pi * pj));
}

/**
 * The student distribution softmax(z) at the free logits z that minimise
 * alpha * CE(label, z) + (1 - alpha) * soft(z, teacher, T), for soft "kld" (T^2 KL) or "mse"
 * (mirrors distill_edu.explore.optimal_student). Damped Newton in closed form: the gradient is
 * alpha (q - onehot) + (1 - alpha) T (q_T - p_T) for "kld" and alpha (q - onehot) + (1 - alpha) (2/V)(z - z_t)
 * for "mse". alpha = 1 has no finite minimum: the answer is its limit, the one-hot label; alpha = 0 gives
 * softmax(teacher) (z = z_t minimises both soft losses). Deterministic: no random start, a fixed iteration cap.
 */
export function optimalStudent(teacherLogits, label, alpha = 0.5, T = 2, soft = "kld", maxSteps = 100) {
  checkAlpha(alpha); checkTemperature(T);
  if (soft !== "kld" && soft !== "mse") throw new RangeError(`optimalStudent needs soft loss "kld" or "mse", got ${JSON.stringify(soft)}`);
  const V = teacherLogits.length;
  if (!(Number.isInteger(label) && label >= 0 && label < V)) throw new RangeError(`label must be an index below ${V}, got ${label}`);
  if (alpha === 1) return teacherLogits.map((_, i) => (i === label ? 1 : 0));
  if (alpha === 0) return softmaxT(teacherLogits, 1);
  const loss = (z) => alpha * crossEntropy(z, label) + (1 - alpha) * softLoss(soft, z, teacherLogits, T);
  const pT = softmaxT(teacherLogits, T);
  let z = [...teacherLogits];
  for (let step = 0; step < maxSteps; step++) {
    const q = softmaxT(z, 1), qT = softmaxT(z, T);
    const g = q.map((v, i) => alpha * (v - (i === label ? 1 : 0)) +
      (1 - alpha) * (soft === "kld" ? T * (qT[i] - pT[i]) : (2 / V) * (z[i] - teacherLogits[i])));
    if (Math.max(...g.map(Math.abs)) <= 1e-10) break;  // the float64 rounding floor of g is ~1e-13
    const Hq = softmaxHessian(q), HT = soft === "kld" ? softmaxHessian(qT) : null;
    // "kld" is blind to a constant shift of z (H 1 = 0, sum g = 0): adding 1 1^T / V fixes the shift, not the step;
    // 1e-12 on the diagonal keeps H solvable where a tempered softmax underflows (it does not move the minimum, g = 0)
    const H = Hq.map((row, i) => row.map((h, j) => alpha * h + (i === j ? 1e-12 : 0) +
      (1 - alpha) * (soft === "kld" ? HT[i][j] + 1 / ((1 - alpha) * V) : (i === j ? 2 / V : 0))));
    const d = solve(H, g.map((v) => -v));
    const f0 = loss(z), slope = g.reduce((s, v, i) => s + v * d[i], 0);
    let t = 1;
    while (loss(z.map((v, i) => v + t * d[i])) > f0 + 1e-4 * t * slope && t > 1e-6) t /= 2;
    z = z.map((v, i) => v + t * d[i]);
  }
  return softmaxT(z, 1);
}
