// ml-cart ships no type declarations; this covers the part segflow uses.
declare module 'ml-cart' {
  interface DistributionMatrix {
    readonly columns: number;
    get(row: number, column: number): number;
  }
  interface TreeNode {
    classify(row: number[]): DistributionMatrix;
  }
  export class DecisionTreeClassifier {
    constructor(options?: {
      gainFunction?: 'gini';
      splitFunction?: 'mean';
      minNumSamples?: number;
      maxDepth?: number;
      gainThreshold?: number;
    });
    root: TreeNode;
    train(trainingSet: number[][], trainingLabels: number[]): void;
    predict(toPredict: number[][]): number[];
    toJSON(): { name: 'DTClassifier'; options: Record<string, unknown>; root: unknown };
    static load(model: object): DecisionTreeClassifier;
  }
}
