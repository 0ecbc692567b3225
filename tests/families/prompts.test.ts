/** Exact prompt strings of the family labeller and predictor, and the FINAL: parser (METHOD.md §5). */
import { describe, expect, it } from "vitest";
import { buildFamilyLabelMessages, buildFamilyPredictorMessages, parseFamilyLabel } from "../../src/families/prompts.js";
import { buildPredictorMessages } from "../../src/interpret/prompts.js";

describe("family prompts", () => {
  it("the labeller prompt, exactly", () => {
    const [system, user] = buildFamilyLabelMessages("Exoplanets", ["Transit photometry", null, " Radial velocity "]);
    expect(system!.role).toBe("system");
    expect(system!.content).toBe(
      "You are a careful domain researcher who reads scientific abstracts. A text-embedding model has been decomposed into sparse features, each labelled with what it responds to. Features that fire together form families: a broad parent feature and narrower child features that mostly fire where the parent fires. Your task is to name the concept a whole family stands for.",
    );
    expect(user).toEqual({
      role: "user",
      content:
        "Parent feature: Exoplanets\n\nChild features (3):\n- Transit photometry\n- (no label)\n- Radial velocity\n\n" +
        "Name the single concept that the parent and its children share: broad enough to cover the children, specific enough to tell this family from others. " +
        'Do not add a field or domain suffix such as "in astronomy" or "in machine learning".\n\n' +
        "Reason briefly, then finish with one line in exactly this form, with nothing after it:\nFINAL: <concept of 2 to 8 words>",
    });
    expect(buildFamilyLabelMessages(null, [])[1]!.content.startsWith("Parent feature: (no label)\n\nChild features (0):\n")).toBe(true);
  });

  it("the family predictor shares the feature predictor's user message, with its own header and system message", () => {
    const fam = buildFamilyPredictorMessages("Exoplanet detection", "Title\n\nAbstract text.");
    const feat = buildPredictorMessages("Exoplanet detection", "Title\n\nAbstract text.");
    expect(fam[1]!.content).toBe(feat[1]!.content.replace("Feature label: ", "Feature family label: "));
    expect(fam[0]!.content).toContain("the family is treated as one feature, active on an abstract when any of its members fires");
    expect(fam[1]!.content.startsWith('Feature family label: Exoplanet detection\n\nAbstract:\n"""\nTitle\n\nAbstract text.\n"""')).toBe(true);
  });

  it("parses the concept after the last FINAL: marker, tolerant of markdown", () => {
    expect(parseFamilyLabel("Thinking...\nFINAL: Exoplanet detection methods")).toEqual({ label: "Exoplanet detection methods", reasoning: "Thinking..." });
    expect(parseFamilyLabel("a FINAL: wrong\n**Final:** \"Stellar populations\".")?.label).toBe("Stellar populations");
    expect(parseFamilyLabel("no marker here")).toBeUndefined();
    expect(parseFamilyLabel("FINAL:   ")).toBeUndefined();
  });
});
