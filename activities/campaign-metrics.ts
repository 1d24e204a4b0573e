/**
 * What a run's campaign measurement reports (measureCampaigns in campaigns.ts) and the manifest
 * records (\`metrics.campaigns\`). Types only, so the manifest (store/manifest.ts), the report and
 * the command line read them without importing the stage.
 */
import type { SnapshotRef } from '../store/layout';

/** One row of campaigns.parquet: a group of last month's dispatch list, control against contacted. */
export interface CampaignGroup {
  dimension: string;
  group: string | null;
  controlSubscribers: number;
  controlChurned: number;
  controlChurnRate: number | null;
  targetedSubscribers: number;
  targetedChurned: number;
  targetedChurnRate: number | null;
  /** Control churn rate minus contacted churn rate: positive when the contacts kept subscribers. */
  absoluteUplift: number | null;
  relativeUplift: number | null;
  upliftLow: number | null;
  upliftHigh: number | null;
  /**
   * The interval (upliftLow to upliftHigh) excludes 0 and both arms are big enough. The whole list's
   * is a 95% interval; a breakdown group's is simultaneous with the other groups of its breakdown
   * read (intervalLevel), so that a breakdown without effect shows some significant group in about
   * one campaign in twenty, however many groups it reads.
   */
  significant: boolean;
  tooSmall: boolean;
  keptPer100Contacts: number | null;
  contactedSubscribers: number;
  acceptedSubscribers: number;
  acceptanceRate: number | null;
  contactedControls: number;
  /**
   * Held out / targeted subscribers of the group whose every run-month usage row was quarantined:
   * whether they left is unknown, so they are in neither arm. Absent in measurements published
   * before they were counted.
   */
  controlUnreadable?: number;
  targetedUnreadable?: number;
  /**
   * Targeted subscribers whose logged outcome was accepted but who have no usage in the run month
   * (churned anyway, or a log to check). Absent in measurements published before it was counted.
   */
  acceptedChurned?: number;
  /**
   * The confidence of this group's own interval: 0.95 for the whole list, 1 - 0.05 / the groups of
   * its breakdown read (Bonferroni), e.g. 0.9875 for one of four actions read. Absent in
   * measurements published before: their intervals were each a 95% interval.
   */
  intervalLevel?: number;
}

/** A group's arms, churn and uplift: what a measurement and its follow-up share. */
export type CampaignArms = Pick<
  CampaignGroup,
  | 'dimension'
  | 'group'
  | 'controlSubscribers'
  | 'controlChurned'
  | 'controlChurnRate'
  | 'targetedSubscribers'
  | 'targetedChurned'
  | 'targetedChurnRate'
  | 'absoluteUplift'
  | 'relativeUplift'
  | 'upliftLow'
  | 'upliftHigh'
  | 'significant'
  | 'tooSmall'
  | 'intervalLevel'
>;

/** What the manifest records of a run's campaign measurement (`metrics.campaigns`). */
export type CampaignMetrics =
  | {
      measured: true;
      /** The snapshot whose dispatch list (and control group) was measured. */
      dispatchFrom: DispatchList;
      contacts: {
        file: string;
        sha256: string;
        /** The contact-log mapping it was read with (params.contactsMapping) and its sha256; absent without one. */
        mapping?: { file: string; sha256: string };
        rows: number;
        loaded: number;
        quarantined: number;
        quarantineByReason: Record<string, number>;
        /** Control subscribers found in the contact log: they stay in control (intent to treat), but dilute it. */
        contactedControls: number;
        /**
         * Rows used whose outcome is none of CONTACT_OUTCOMES ('no answer'): contacts whose outcome
         * is unknown. Absent when there are none, and in manifests published before such rows were
         * used (they were quarantined as "outcome: not one of ...").
         */
        outcomesUnread?: number;
        /**
         * Rows used whose logged action is not the one the list recommends to the subscriber
         * (case and spacing aside): they are measured under the list's action (intent to treat).
         * Absent in manifests published before it was counted.
         */
        actionDiffers?: number;
        /** Logged channels of the rows used that segflow does not use (CONTACT_CHANNELS), with a likely meant one. */
        unknownChannels?: UnknownChannel[];
      };
      /**
       * What to check before trusting the measurement, each a sentence (campaignWarnings): a log
       * of which fewer than half of the rows could be used (CONTACT_LOG_MIN_USED_SHARE; most
       * likely the wrong file), a list chosen by default when its month has other versions
       * (dispatchedListWarning). The intent-to-treat arms come from the list, so the measurement
       * stands either way.
       */
      warnings?: string[];
      /**
       * How well the log fit each version of the measured month when measured (more than one
       * version, list chosen by default): what the warning about them was computed from. Absent
       * in manifests published before it was recorded.
       */
      listFits?: ListFit[];
      /** Manifests published before `warnings`: the contact-log warning alone. */
      warning?: string;
      interval: string;
      /** How the subscribers were weighted (churn rates and intervals). Absent in manifests published before they were. */
      holdOutWeights?: HoldOutWeights;
      minArmSubscribers: number;
      /**
       * Kept per 100 contacts is not given (null) for a group with fewer logged subscribers than
       * this. Absent in manifests published before it was withheld.
       */
      minLoggedSubscribers?: number;
      /** Why kept per 100 contacts is given for no group (a mostly unusable log); absent when it is given. */
      keptPer100Withheld?: string;
      overall: CampaignGroup;
      byAction: CampaignGroup[];
    }
  | { measured: false; reason: string };

/**
 * How a measurement weighs a dispatch list's subscribers: each by the inverse of its chance of its
 * arm, from the list's controlShare and the stratum the floor of its control group counted it in
 * (activities/campaigns/00_measure_macros.sql).
 */
export interface HoldOutWeights {
  /** The list's controlShare (its manifest's), or null when unknown: every weight is then 1. */
  controlShare: number | null;
  /**
   * The strata its control group was drawn in: per region, grid and operation priority, or per grid
   * and priority for a list ranked per grid (published before session 35, whose strata were so).
   */
  strata: 'region, grid, operation priority' | 'grid, operation priority';
}

/** The dispatch list a measurement used: which snapshot, its dispatch.parquet's sha256, and why that one. */
type DispatchList = SnapshotRef & {
  /** sha256 of the snapshot's dispatch.parquet as measured (absent in manifests published before it was recorded). */
  sha256?: string;
  /**
   * 'dispatched': named by the run's `dispatched` parameter; 'latest': left out, so the version
   * this run's segment ids were matched to (the month's latest when the run started).
   */
  chosenBy?: 'dispatched' | 'latest';
};

/** A logged channel segflow does not use, its rows, and the known channel it is closest to (a typo). */
export interface UnknownChannel {
  channel: string;
  rows: number;
  suggestion?: string;
}

/** How well the contact log fits one version's dispatch list. */
export interface ListFit {
  version: number;
  /** Usable log rows (any reason but "not on last month's dispatch list"). */
  rows: number;
  /** Of them, subscribers on this version's list. */
  onList: number;
  /** Rows with a logged action. */
  withAction: number;
  /** Of them, the action this version's list recommends to the subscriber (case and spacing aside). */
  actionMatches: number;
  /**
   * sha256 of this version's dispatch.parquet: versions with the measured list's hash are the same
   * list, no ambiguity. Absent in manifests published before it was recorded.
   */
  sha256?: string;
}

/**
 * One row of campaigns_followup.parquet: a group of the list measured last month, measured again
 * with churn read a month later (this run's month), beside the uplift measured in the month of
 * contact (`ownMonth*`, null for a group last month's measurement did not have).
 */
export interface CampaignFollowUpGroup extends CampaignArms {
  controlUnreadable: number;
  targetedUnreadable: number;
  ownMonthControlChurnRate: number | null;
  ownMonthTargetedChurnRate: number | null;
  ownMonthAbsoluteUplift: number | null;
  ownMonthUpliftLow: number | null;
  ownMonthUpliftHigh: number | null;
  ownMonthSignificant: boolean | null;
  ownMonthTooSmall: boolean | null;
}

/**
 * What the manifest records of the follow-up (`metrics.campaignFollowUp`): the dispatch list last
 * month's run measured (the snapshot this run's segment ids came from), measured again with churn
 * read in this run's month. Absent when that run measured no campaign (it was given no contact
 * log), and in manifests published before the follow-up.
 */
export type CampaignFollowUp =
  | {
      measured: true;
      /** The list followed up: as the first measurement recorded it, and checked against its sha256. */
      dispatchFrom: SnapshotRef & { sha256: string };
      /** The snapshot whose run measured the list first (in the month of contact). */
      firstMeasuredIn: SnapshotRef;
      /**
       * sha256 of firstMeasuredIn's campaigns.parquet, read for the month of contact's uplift
       * (own_month_*): `snapshots reproduce` checks it. Absent in manifests published before it was recorded.
       */
      ownMonthCampaignsSha256?: string;
      /** The month churn is read in: this run's month. */
      churnMonth: string;
      interval: string;
      /** How the subscribers were weighted, as in the month of contact. Absent in manifests published before they were. */
      holdOutWeights?: HoldOutWeights;
      minArmSubscribers: number;
      /** Why there is no kept per 100 contacts in the follow-up. */
      keptPer100: string;
      /**
       * The subscribers of the followed-up list who are to be contacted again on `list` (sha256 as
       * read), the list contacted in churnMonth (the one this run measured, else firstMeasuredIn's
       * own), by their arm on the followed-up list: churn read in churnMonth answers to both
       * campaigns. Absent when that list cannot be read as published, and in manifests published
       * before it was counted.
       */
      listedAgain?: { list: SnapshotRef; sha256?: string; control: number; targeted: number };
      overall: CampaignFollowUpGroup;
      byAction: CampaignFollowUpGroup[];
    }
  | {
      measured: false;
      reason: string;
      /** The snapshot whose measurement was to be followed up. */
      firstMeasuredIn: SnapshotRef;
      /** The list that measurement recorded, when it recorded one. */
      dispatchFrom?: SnapshotRef & { sha256?: string };
    };
