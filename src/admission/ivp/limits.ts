/**
 * Bounds on ImageValidatingPolicy CEL, applied at load (static) and per evaluation (runtime).
 * Kubernetes' CEL admission bounds expressions by an estimated cost at load and a runtime cost
 * per call; sigil does the same with its own, simpler units (one unit = one AST node visited at
 * load, or one comprehension step at run time).
 */
export const CEL_LIMITS = {
  /** Characters in one expression (a 10 MB string literal is refused here). */
  maxExpressionLength: 16 * 1024,
  /** Bracket/parenthesis nesting before parsing (the parser recurses). */
  maxNesting: 48,
  /** Depth of the parsed tree. */
  maxAstDepth: 128,
  /** Nodes of the parsed tree. */
  maxAstNodes: 4000,
  /** Worst-case comprehension steps estimated at load (lists of unknown size count as below). */
  maxEstimatedCost: 1_000_000,
  /** What a list the expression reads from its input is assumed to hold, for the estimate. */
  assumedListSize: 64,
  /** Comprehension steps one evaluation of one expression may take. */
  runtimeBudget: 200_000,
  /** Steps one policy may take over one request, all expressions and re-evaluations together. */
  evaluationBudget: 500_000,
  /** Expressions per policy section. */
  maxMatchConditions: 64,
  maxValidations: 64,
  maxVariables: 64,
  maxImageExtractors: 32,
  /** Images one object may name (over all extractors). */
  maxImages: 256,
  /** Rounds of (evaluate, then verify what the expression asked for). */
  maxVerificationRounds: 64,
} as const;
