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

/** alpha * one-hot(label) + (1 - alpha) * softmax(teacher / T), the target the loss pulls towards (mirrors distill_edu.explore.mixed_target). */
export function mixedTarget(vocabSize, label, teacherLogits, alpha = 0.5, T = 2) {
  checkAlpha(alpha);
  if (teacherLogits.length !== vocabSize) throw new RangeError(`teacher logits have ${teacherLogits.length} entries, expected ${vocabSize}`);
  if (!(Number.isInteger(label) && label >= 0 && label < vocabSize)) throw new RangeError(`label must be an index below ${vocabSize}, got ${label}`);
  const p = softmaxT(teacherLogits, T);
  return p.map((v, i) => alpha * (i === label ? 1 : 0) + (1 - alpha) * v);
}
