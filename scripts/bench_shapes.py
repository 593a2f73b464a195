#!/usr/bin/env python3
"""Realistic cost export shapes for the bench, generated independently of the Rust generator.

usage: bench_shapes.py --out DIR [--rows N] [--csv-rows M] [--seed S] [--shapes cur2,focus]

Writes into DIR:
  cur2-wide.parquet       a CUR 2.0 AWS Data Export: its standard column set (bill_*, identity_*,
                          line_item_*, pricing_*, product_*, reservation_*, savings_plan_*,
                          split_line_item_*, and the map<string,string> columns discount,
                          product, resource_tags, cost_category), most of them unread by the
                          cost query and many mostly null, as real exports are; ~150 service
                          codes with Zipf-distributed usage, high-cardinality resource ids
                          (ARNs, i-0..., vol-0...), hours spread over the month in no order;
                          1,000,000-row groups, snappy; doubles and timestamps PLAIN-encoded,
                          dictionary encoding for string columns only
  cur2-wide-dict.parquet  the same rows, every column dictionary-encoded (costs come from a
                          limited set of rate x quantity values, as repeated hourly charges do,
                          so the dictionaries stay small)
  focus12.parquet         FOCUS 1.2: the specification's columns (plus a few x_ provider columns)
                          from AWS, Microsoft, Google Cloud and Oracle with their own service
                          names, regions and ids; Tags as JSON text; 131,072-row groups, zstd
  cur2-wide.csv.gz        the first M rows of the CUR shape as CSV.gz (timestamps written as
                          CUR does: 2024-09-01T00:00:00.000Z; maps as JSON)
  focus12.csv.gz          the first M rows of the FOCUS shape (timestamps as 2024-09-18 22:00:00)

Rows are generated in chunks of one row group (1,000,000), so memory stays bounded. Prints a JSON
summary: per file its rows, bytes, row groups and the encodings of the read columns as the
Parquet metadata states them.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 1_000_000
MONTH_START = np.datetime64("2024-09-01T00:00:00", "ms")
HOURS = 30 * 24

# ---------------------------------------------------------------------------------------------
# Vocabularies

AWS_SERVICES = """AmazonEC2 AmazonS3 AmazonRDS AWSLambda AmazonDynamoDB AmazonCloudWatch AmazonVPC
AWSDataTransfer AmazonECS AmazonEKS AmazonElastiCache AmazonES AmazonRedshift AmazonSNS AWSQueueService
AWSELB AmazonRoute53 AmazonCloudFront awskms AWSSecretsManager AWSConfig AWSCloudTrail AmazonGuardDuty
AWSSystemsManager AmazonECR AmazonKinesis AmazonKinesisFirehose AmazonAthena AWSGlue AmazonEFS AmazonFSx
AWSBackup AmazonApiGateway AmazonStates AmazonSageMaker AmazonBedrock AmazonMSK AmazonMQ CodeBuild
AWSCodePipeline AWSCodeArtifact AmazonCognito AmazonSES AmazonLightsail AmazonWorkSpaces AmazonConnect
AmazonInspectorV2 AWSSecurityHub AmazonMacie awswaf AWSShield AWSDirectConnect AWSTransfer AWSDataSync
AmazonTimestream AmazonNeptune AmazonDocDB AmazonMCS AmazonQuickSight AmazonTextract AmazonRekognition
comprehend translate AmazonPolly transcribe AWSIoT AWSAppSync AmazonAppFlow AWSAmplify
AmazonLocationService AWSXRay AmazonPrometheus AmazonGrafana AWSCostExplorer AWSSupportBusiness
AWSSupportEnterprise AWSEvents AmazonCloudSearch AWSDirectoryService ACM AmazonDetective AWSFMS
AWSNetworkFirewall AWSGlobalAccelerator AmazonVPCLattice AWSCloudMap AmazonMWAA ElasticMapReduce
AWSBatch AWSElasticDisasterRecovery AWSDatabaseMigrationSvc AWSMigrationHub AmazonAppStream
AmazonChimeServices AmazonPinpoint AmazonLex AmazonKendra AmazonPersonalize AmazonForecast
AmazonFraudDetector AmazonHealthLake AmazonDevOpsGuru AmazonCodeGuru AWSCloudShell AWSOutposts
AmazonGameLift AmazonIVS AWSElementalMediaConvert AWSElementalMediaLive AmazonMemoryDB AmazonQ
AWSResilienceHub AmazonSimpleDB AmazonGlacier AWSStorageGateway AmazonSWF AWSServiceCatalog
AWSOrganizations AmazonManagedBlockchain AWSDeviceFarm AWSIoTAnalytics AWSIoTEvents AWSGreengrass
AmazonCloudDirectory AWSAppRunner AmazonRoute53Resolver AWSCertificateManager AmazonVerifiedPermissions
AWSPrivateCA AWSCodeCommit AmazonCodeCatalyst AmazonEventBridgeScheduler AmazonEMRServerless
AmazonOpenSearchServerless AmazonBraket AmazonNimble AWSGroundStation AmazonLookoutMetrics
AmazonMonitron AmazonOmics AWSSnowball AWSTransitGateway AmazonWorkMail AmazonWorkDocs AWSCloudFormation
AWSIAMIdentityCenter AmazonSecurityLake AWSAuditManager AWSLicenseManager AmazonCloudWatchEvents
AmazonSimpleEmailService AmazonAugmentedAI AWSDeveloperSupport AWSMarketplace""".split()

AWS_REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1",
               "ap-northeast-1", "ap-south-1", "sa-east-1", "ca-central-1", "eu-north-1", "us-west-1"]
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)",
                "eu-central-1": "EU (Frankfurt)", "ap-southeast-1": "Asia Pacific (Singapore)",
                "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-south-1": "Asia Pacific (Mumbai)",
                "sa-east-1": "South America (Sao Paulo)", "ca-central-1": "Canada (Central)",
                "eu-north-1": "EU (Stockholm)", "us-west-1": "US West (N. California)"}

# FOCUS providers: (ProviderName, PublisherName, InvoiceIssuerName, services, categories, regions)
FOCUS_PROVIDERS = [
    ("AWS", "Amazon Web Services, Inc.", "Amazon Web Services, Inc.",
     ["Amazon Elastic Compute Cloud", "Amazon Simple Storage Service", "Amazon Relational Database Service",
      "AWS Lambda", "Amazon DynamoDB", "AmazonCloudWatch", "Amazon Virtual Private Cloud",
      "AWS Data Transfer", "Amazon Elastic Container Service", "Amazon Elastic Kubernetes Service",
      "Amazon ElastiCache", "Amazon OpenSearch Service", "Amazon Redshift", "Amazon Simple Notification Service",
      "Amazon Simple Queue Service", "Elastic Load Balancing", "Amazon Route 53", "Amazon CloudFront",
      "AWS Key Management Service", "AWS Secrets Manager", "AWS Config", "AWS CloudTrail",
      "Amazon GuardDuty", "AWS Systems Manager", "Amazon EC2 Container Registry (ECR)",
      "Amazon Kinesis", "Amazon Athena", "AWS Glue", "Amazon Elastic File System", "AWS Backup",
      "Amazon API Gateway", "AWS Step Functions", "Amazon SageMaker", "Amazon Bedrock",
      "Amazon Managed Streaming for Apache Kafka", "AWS CodeBuild", "Amazon Cognito",
      "Amazon Simple Email Service", "AWS WAF", "AWS Support (Business)"],
     ["Compute", "Storage", "Databases", "Compute", "Databases", "Management and Governance", "Networking",
      "Networking", "Compute", "Compute", "Databases", "Analytics", "Analytics", "Integration",
      "Integration", "Networking", "Networking", "Networking", "Security", "Security",
      "Management and Governance", "Management and Governance", "Security", "Management and Governance",
      "Storage", "Analytics", "Analytics", "Analytics", "Storage", "Storage", "Web", "Integration",
      "AI and Machine Learning", "AI and Machine Learning", "Analytics", "Developer Tools", "Identity",
      "Integration", "Security", "Other"],
     AWS_REGIONS),
    ("Microsoft", "Microsoft", "Microsoft",
     ["Virtual Machines", "Storage", "Azure SQL Database", "Azure Kubernetes Service", "Azure Functions",
      "Azure Cosmos DB", "Bandwidth", "Azure Monitor", "Log Analytics", "Azure App Service",
      "Virtual Network", "Load Balancer", "Azure DNS", "Key Vault", "Azure Cache for Redis",
      "Azure Database for PostgreSQL", "Azure Data Factory", "Azure Synapse Analytics", "Event Hubs",
      "Service Bus", "Azure Backup", "Microsoft Defender for Cloud", "Azure OpenAI Service",
      "Container Registry", "Application Gateway", "Azure Front Door", "Azure Firewall",
      "Azure Databricks", "Azure Cognitive Search", "Microsoft Entra ID"],
     ["Compute", "Storage", "Databases", "Compute", "Compute", "Databases", "Networking",
      "Management and Governance", "Management and Governance", "Web", "Networking", "Networking",
      "Networking", "Security", "Databases", "Databases", "Analytics", "Analytics", "Integration",
      "Integration", "Storage", "Security", "AI and Machine Learning", "Storage", "Networking",
      "Networking", "Security", "Analytics", "Analytics", "Identity"],
     ["eastus", "eastus2", "westus2", "westeurope", "northeurope", "uksouth", "southeastasia",
      "japaneast", "australiaeast", "centralus"]),
    ("Google Cloud", "Google", "Google",
     ["Compute Engine", "Cloud Storage", "BigQuery", "Cloud SQL", "Kubernetes Engine", "Cloud Run",
      "Cloud Functions", "Networking", "Cloud Logging", "Cloud Monitoring", "Cloud Pub/Sub",
      "Cloud Spanner", "Vertex AI", "Cloud Memorystore for Redis", "Artifact Registry",
      "Cloud Dataflow", "Cloud Load Balancing", "Cloud DNS", "Secret Manager", "Cloud Key Management Service"],
     ["Compute", "Storage", "Analytics", "Databases", "Compute", "Compute", "Compute", "Networking",
      "Management and Governance", "Management and Governance", "Integration", "Databases",
      "AI and Machine Learning", "Databases", "Storage", "Analytics", "Networking", "Networking",
      "Security", "Security"],
     ["us-central1", "us-east1", "us-west1", "europe-west1", "europe-west4", "asia-east1",
      "asia-northeast1", "australia-southeast1"]),
    ("Oracle", "Oracle", "Oracle",
     ["Compute", "Block Storage", "Object Storage", "Autonomous Database", "Networking",
      "Load Balancer", "Container Engine for Kubernetes", "MySQL HeatWave", "Logging", "Functions"],
     ["Compute", "Storage", "Storage", "Databases", "Networking", "Networking", "Compute", "Databases",
      "Management and Governance", "Compute"],
     ["us-ashburn-1", "us-phoenix-1", "eu-frankfurt-1", "uk-london-1", "ap-tokyo-1"]),
]
# Share of FOCUS rows per provider (most spend at the first provider, as multi-cloud estates go).
FOCUS_SHARE = [0.55, 0.25, 0.15, 0.05]

TAG_KEYS = ["team", "env", "app", "owner", "cost_center", "project", "component", "service"]
TAG_VALUES = {
    "team": ["payments", "search", "platform", "data", "mobile", "web", "infra", "ml", "security", "growth"],
    "env": ["prod", "staging", "dev", "test", "sandbox"],
    "app": [f"app-{i:03d}" for i in range(60)],
    "owner": [f"owner{i}@example.com" for i in range(40)],
    "cost_center": [f"CC-{1000 + i}" for i in range(25)],
    "project": [f"proj-{i:02d}" for i in range(30)],
    "component": ["api", "worker", "db", "cache", "queue", "frontend", "batch", "etl"],
    "service": [f"svc-{i:02d}" for i in range(50)],
}


def zipf_weights(n, s=1.1):
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def take(values, idx):
    """A plain string column of values[idx] (built in Arrow, no Python loop per row)."""
    return pa.array(values, type=pa.string()).take(pa.array(idx, type=pa.int32()))


def with_nulls(array, rng, null_share):
    """array with null_share of its rows set to null."""
    if null_share <= 0:
        return array
    mask = pa.array(rng.random(len(array)) < null_share)
    return pc.if_else(mask, pa.scalar(None, array.type), array)


def hex_ids(rng, n, digits):
    raw = rng.integers(0, 2**63, size=(n, (digits + 15) // 16), dtype=np.int64)
    return ["".join(f"{v:016x}" for v in row)[:digits] for row in raw]


class Pools:
    """Everything drawn once per file: accounts, resources, tag sets, price points."""

    def __init__(self, rng, resources):
        self.services = AWS_SERVICES
        self.service_p = zipf_weights(len(self.services))
        self.accounts = [f"{rng.integers(10**11, 10**12)}" for _ in range(60)]
        self.account_names = [f"acct-{i:02d}-{n}" for i, n in enumerate(
            ["prod", "staging", "dev", "shared", "data", "security", "logs", "sandbox"] * 8)][:60]
        self.account_p = zipf_weights(len(self.accounts), 0.8)
        self.payer = "123456789012"
        # Resources: each belongs to one service, account and region; the service of a resource
        # follows the Zipf weights, so rows drawn uniformly over resources are Zipf over services.
        n = resources
        self.res_service = rng.choice(len(self.services), size=n, p=self.service_p)
        self.res_account = rng.choice(len(self.accounts), size=n, p=self.account_p)
        self.res_region = rng.choice(len(AWS_REGIONS), size=n, p=zipf_weights(len(AWS_REGIONS), 1.3))
        self.res_az = rng.integers(0, 3, size=n)
        hexes = hex_ids(rng, n, 17)
        ids = []
        for i in range(n):
            svc = self.services[self.res_service[i]]
            region = AWS_REGIONS[self.res_region[i]]
            acct = self.accounts[self.res_account[i]]
            h = hexes[i]
            if svc == "AmazonEC2":
                ids.append(("i-0" if i % 3 else "vol-0") + h)
            elif svc == "AmazonS3":
                ids.append(f"bucket-{h[:10]}-{region}")
            elif svc == "AWSLambda":
                ids.append(f"arn:aws:lambda:{region}:{acct}:function:fn-{h[:12]}")
            elif svc == "AmazonRDS":
                ids.append(f"arn:aws:rds:{region}:{acct}:db:db-{h[:14]}")
            elif svc == "AmazonDynamoDB":
                ids.append(f"arn:aws:dynamodb:{region}:{acct}:table/table-{h[:12]}")
            else:
                ids.append(f"arn:aws:{svc.lower()}:{region}:{acct}:resource/{h}")
        self.resource_ids = ids
        self.id_halves = hex_ids(rng, 4096, 26)
        # Tag sets: a few hundred distinct combinations, as map rows and as JSON text.
        sets = []
        for i in range(400):
            keys = rng.choice(len(TAG_KEYS), size=rng.integers(0, 6), replace=False)
            pairs = []
            for k in sorted(keys):
                key = TAG_KEYS[k]
                vals = TAG_VALUES[key]
                pairs.append((f"user_{key}", vals[rng.integers(0, len(vals))]))
            sets.append(pairs)
        self.res_tags = rng.integers(0, len(sets), size=n)
        self.tag_maps = pa.array(sets, type=pa.map_(pa.string(), pa.string()))
        self.tag_json = pa.array([json.dumps(dict(p), separators=(",", ":")) for p in sets])
        # Price points: costs are rate x quantity from small sets, so values repeat (hourly
        # instance charges) and a dictionary of costs stays small.
        self.rates = np.round(np.exp(rng.normal(-3.5, 2.0, size=300)), 6)
        self.quantities = np.concatenate([np.ones(20), np.round(rng.lognormal(0, 1.5, size=60), 4)])
        self.descriptions = [f"$%.4f per unit-hour, description {i}" % r for i, r in enumerate(self.rates)]
        self.usage_types = [f"{r.split('-')[0].upper()}-{t}" for r in AWS_REGIONS
                            for t in ["BoxUsage:m5.large", "BoxUsage:c6g.xlarge", "EBS:VolumeUsage.gp3",
                                      "DataTransfer-Out-Bytes", "TimedStorage-ByteHrs", "Requests-Tier1",
                                      "Lambda-GB-Second", "NatGateway-Hours", "LoadBalancerUsage",
                                      "APIRequest", "CW:MetricMonitorUsage", "ReadCapacityUnit-Hrs"]]
        self.operations = ["RunInstances", "CreateVolume-Gp3", "PutObject", "GetObject", "Invoke",
                           "CreateDBInstance:0014", "NatGateway", "LoadBalancing:Application",
                           "PayPerRequestThroughput", "Unknown", "MetricStorage", "Query"]
        self.instance_types = ["m5.large", "m5.xlarge", "c6g.xlarge", "r6i.2xlarge", "t3.micro",
                               "t3.medium", "db.r6g.large", "cache.t4g.small", "m7g.medium", ""]


# ---------------------------------------------------------------------------------------------
# CUR 2.0

def cur_chunk(rng, pools, n):
    """n rows of a CUR 2.0 export, as an ordered dict of column name -> Arrow array."""
    res = rng.integers(0, len(pools.resource_ids), size=n)
    svc = pools.res_service[res]
    acct = pools.res_account[res]
    region = pools.res_region[res]
    hour = rng.integers(0, HOURS, size=n)
    start = MONTH_START + hour.astype("timedelta64[h]")
    end = start + np.timedelta64(1, "h")
    rate = pools.rates[rng.integers(0, len(pools.rates), size=n)]
    qty = pools.quantities[rng.integers(0, len(pools.quantities), size=n)]
    cost = np.round(rate * qty, 10)
    # Line item types: mostly usage, some tax, fees, credits (negative) and discounted usage.
    kinds = ["Usage", "Tax", "Fee", "Credit", "DiscountedUsage", "SavingsPlanCoveredUsage",
             "SavingsPlanNegation", "RIFee", "BundledDiscount"]
    kind = rng.choice(len(kinds), size=n, p=[0.80, 0.02, 0.01, 0.01, 0.05, 0.07, 0.02, 0.01, 0.01])
    cost = np.where(np.isin(kind, [3, 6, 8]), -cost, cost)
    usage_rows = kind == 0
    resource_null = rng.random(n) < 0.15  # tax, fees, and services without resource ids

    def s(values, idx):
        return take(values, idx)

    def const(value):
        return pa.array(np.full(n, value, dtype=object), type=pa.string())

    def dbl(values, null_share=0.0):
        return with_nulls(pa.array(values, type=pa.float64()), rng, null_share)

    def nulls(kind_type=pa.string()):
        return pa.nulls(n, type=kind_type)

    def mostly_null_str(values, share_present):
        idx = rng.integers(0, len(values), size=n)
        return with_nulls(s(values, idx), rng, 1 - share_present)

    def mostly_null_dbl(share_present, scale=1.0):
        return dbl(np.round(cost * scale, 10), 1 - share_present)

    ts = pa.timestamp("ms")
    start_a = pa.array(start, type=ts)
    end_a = pa.array(end, type=ts)
    period_start = pa.array(np.full(n, MONTH_START), type=ts)
    period_end = pa.array(np.full(n, MONTH_START + np.timedelta64(30, "D")), type=ts)
    services = pools.services
    res_ids = with_nulls(s(pools.resource_ids, res), rng, 0.0)
    res_ids = pc.if_else(pa.array(resource_null), pa.scalar(None, pa.string()), res_ids)
    ut = rng.integers(0, len(pools.usage_types), size=n)
    op = rng.integers(0, len(pools.operations), size=n)
    it = rng.integers(0, len(pools.instance_types), size=n)
    region_s = s(AWS_REGIONS, region)
    region_names = [REGION_NAMES[r] for r in AWS_REGIONS]
    az = pc.binary_join_element_wise(region_s, s(["a", "b", "c"], pools.res_az[res]), "")
    product_idx = pa.array(rng.integers(0, 50, size=n))  # a few product attribute sets
    product_maps = pools.tag_maps.take(product_idx)
    tags_idx = pa.array(pools.res_tags[res])
    cols = {
        "bill_bill_type": s(["Anniversary", "Purchase", "Refund"], rng.choice(3, size=n, p=[0.995, 0.004, 0.001])),
        "bill_billing_entity": s(["AWS", "AWS Marketplace"], (svc == services.index("AWSMarketplace")).astype(int)),
        "bill_billing_period_end_date": period_end,
        "bill_billing_period_start_date": period_start,
        "bill_invoice_id": nulls(),
        "bill_invoicing_entity": const("Amazon Web Services, Inc."),
        "bill_payer_account_id": const(pools.payer),
        "bill_payer_account_name": const("Example Corp"),
        "cost_category": pa.nulls(n, type=pa.map_(pa.string(), pa.string())),
        "discount": pa.nulls(n, type=pa.map_(pa.string(), pa.string())),
        "discount_bundled_discount": mostly_null_dbl(0.01, -0.05),
        "discount_total_discount": mostly_null_dbl(0.03, -0.08),
        "identity_line_item_id": pc.binary_join_element_wise(
            s(pools.id_halves, rng.integers(0, len(pools.id_halves), size=n)),
            s(pools.id_halves, rng.integers(0, len(pools.id_halves), size=n)), ""),
        "identity_time_interval": pc.binary_join_element_wise(
            strftime(start_a, "%Y-%m-%dT%H:%M:%SZ"), strftime(end_a, "%Y-%m-%dT%H:%M:%SZ"), "/"),
        "line_item_availability_zone": with_nulls(az, rng, 0.4),
        "line_item_blended_cost": dbl(np.round(cost * 0.98, 10)),
        "line_item_blended_rate": s([f"{r:.10f}" for r in pools.rates], rng.integers(0, len(pools.rates), size=n)),
        "line_item_currency_code": const("USD"),
        "line_item_legal_entity": const("Amazon Web Services, Inc."),
        "line_item_line_item_description": s(pools.descriptions, rng.integers(0, len(pools.descriptions), size=n)),
        "line_item_line_item_type": s(kinds, kind),
        "line_item_net_unblended_cost": dbl(np.round(cost * 0.97, 10), 0.6),
        "line_item_net_unblended_rate": mostly_null_str([f"{r:.10f}" for r in pools.rates], 0.4),
        "line_item_normalization_factor": dbl(np.where(usage_rows, 4.0, 0.0)),
        "line_item_normalized_usage_amount": dbl(qty * 4.0),
        "line_item_operation": s(pools.operations, op),
        "line_item_product_code": s(services, svc),
        "line_item_resource_id": res_ids,
        "line_item_tax_type": pc.if_else(pa.array(kind == 1), pa.scalar("VAT"), pa.scalar(None, pa.string())),
        "line_item_unblended_cost": dbl(cost),
        "line_item_unblended_rate": s([f"{r:.10f}" for r in pools.rates], rng.integers(0, len(pools.rates), size=n)),
        "line_item_usage_account_id": s(pools.accounts, acct),
        "line_item_usage_account_name": s(pools.account_names, acct),
        "line_item_usage_amount": dbl(qty),
        "line_item_usage_end_date": end_a,
        "line_item_usage_start_date": start_a,
        "line_item_usage_type": s(pools.usage_types, ut),
        "pricing_currency": const("USD"),
        "pricing_lease_contract_length": mostly_null_str(["1yr", "3yr"], 0.05),
        "pricing_offering_class": mostly_null_str(["standard", "convertible"], 0.05),
        "pricing_public_on_demand_cost": dbl(np.round(cost * 1.1, 10)),
        "pricing_public_on_demand_rate": s([f"{r * 1.1:.10f}" for r in pools.rates], rng.integers(0, len(pools.rates), size=n)),
        "pricing_purchase_option": mostly_null_str(["All Upfront", "Partial Upfront", "No Upfront"], 0.05),
        "pricing_rate_code": s([f"{h}.JRTCKXETXF.6YS6EN2CT7" for h in hex_ids(rng, 500, 16)], rng.integers(0, 500, size=n)),
        "pricing_rate_id": s([str(rng.integers(10**9, 10**10)) for _ in range(500)], rng.integers(0, 500, size=n)),
        "pricing_term": s(["OnDemand", "Reserved", ""], rng.choice(3, size=n, p=[0.9, 0.05, 0.05])),
        "pricing_unit": s(["Hrs", "GB-Mo", "GB", "Requests", "Lambda-GB-Second", "IOs"], rng.integers(0, 6, size=n)),
        "product": product_maps,
        "product_comment": nulls(),
        "product_fee_code": nulls(),
        "product_fee_description": nulls(),
        "product_from_location": mostly_null_str(region_names, 0.1),
        "product_from_location_type": mostly_null_str(["AWS Region", "AWS Edge Location"], 0.1),
        "product_from_region_code": mostly_null_str(AWS_REGIONS, 0.1),
        "product_instance_family": mostly_null_str(["General purpose", "Compute optimized", "Memory optimized"], 0.3),
        "product_instance_type": s(pools.instance_types, it),
        "product_instancesku": nulls(),
        "product_location": s(region_names, region),
        "product_location_type": const("AWS Region"),
        "product_operation": s(pools.operations, op),
        "product_pricing_unit": s(["Hrs", "GB-Mo", "GB", "Requests"], rng.integers(0, 4, size=n)),
        "product_product_family": s(["Compute Instance", "Storage", "Data Transfer", "API Request", "Serverless",
                                     "Database Instance", "NAT Gateway", "Load Balancer-Application",
                                     "Metric", "Provisioned Throughput"], rng.integers(0, 10, size=n)),
        "product_region_code": region_s,
        "product_servicecode": s(services, svc),
        "product_sku": s([h.upper() for h in hex_ids(rng, 3000, 16)], rng.integers(0, 3000, size=n)),
        "product_to_location": mostly_null_str(region_names, 0.1),
        "product_to_location_type": mostly_null_str(["AWS Region", "External"], 0.1),
        "product_to_region_code": mostly_null_str(AWS_REGIONS, 0.1),
        "product_usagetype": s(pools.usage_types, ut),
    }
    for name in ["amortized_upfront_cost_for_usage", "amortized_upfront_fee_for_billing_period",
                 "effective_cost", "net_amortized_upfront_cost_for_usage",
                 "net_amortized_upfront_fee_for_billing_period", "net_effective_cost",
                 "net_recurring_fee_for_usage", "net_unused_amortized_upfront_fee_for_billing_period",
                 "net_unused_recurring_fee", "net_upfront_value"]:
        cols[f"reservation_{name}"] = mostly_null_dbl(0.05, 0.6)
    cols["reservation_availability_zone"] = mostly_null_str(["us-east-1a", "eu-west-1b"], 0.02)
    cols["reservation_end_time"] = mostly_null_str(["2025-03-01T00:00:00.000Z"], 0.05)
    cols["reservation_modification_status"] = mostly_null_str(["Original", "Manual"], 0.05)
    for name in ["normalized_units_per_reservation", "number_of_reservations"]:
        cols[f"reservation_{name}"] = mostly_null_str(["1", "2", "4", "8"], 0.05)
    cols["reservation_recurring_fee_for_usage"] = mostly_null_dbl(0.05, 0.3)
    cols["reservation_reservation_a_r_n"] = mostly_null_str(
        [f"arn:aws:ec2:us-east-1:{pools.payer}:reserved-instances/{h}" for h in hex_ids(rng, 40, 32)], 0.05)
    cols["reservation_start_time"] = mostly_null_str(["2024-03-01T00:00:00.000Z"], 0.05)
    cols["reservation_subscription_id"] = mostly_null_str([str(10**9 + i) for i in range(40)], 0.05)
    for name in ["total_reserved_normalized_units", "total_reserved_units", "units_per_reservation",
                 "unused_normalized_unit_quantity", "unused_quantity"]:
        cols[f"reservation_{name}"] = mostly_null_str(["0", "1", "24", "720"], 0.05)
    for name in ["unused_amortized_upfront_fee_for_billing_period", "unused_recurring_fee", "upfront_value"]:
        cols[f"reservation_{name}"] = mostly_null_dbl(0.02, 0.2)
    cols["resource_tags"] = pools.tag_maps.take(tags_idx)
    for name in ["amortized_upfront_commitment_for_billing_period", "net_amortized_upfront_commitment_for_billing_period",
                 "net_recurring_commitment_for_billing_period", "net_savings_plan_effective_cost",
                 "recurring_commitment_for_billing_period", "savings_plan_effective_cost",
                 "savings_plan_rate", "total_commitment_to_date", "used_commitment"]:
        cols[f"savings_plan_{name}"] = mostly_null_dbl(0.07, 0.7)
    cols["savings_plan_end_time"] = mostly_null_str(["2027-01-01T00:00:00.000Z"], 0.07)
    cols["savings_plan_instance_type_family"] = mostly_null_str(["m5", "c6g", "r6i"], 0.03)
    cols["savings_plan_offering_type"] = mostly_null_str(["ComputeSavingsPlans", "EC2InstanceSavingsPlans"], 0.07)
    cols["savings_plan_payment_option"] = mostly_null_str(["No Upfront", "All Upfront"], 0.07)
    cols["savings_plan_purchase_term"] = mostly_null_str(["1yr", "3yr"], 0.07)
    cols["savings_plan_region"] = mostly_null_str(region_names, 0.03)
    cols["savings_plan_savings_plan_a_r_n"] = mostly_null_str(
        [f"arn:aws:savingsplans::{pools.payer}:savingsplan/{h}" for h in hex_ids(rng, 10, 32)], 0.07)
    cols["savings_plan_start_time"] = mostly_null_str(["2024-01-01T00:00:00.000Z"], 0.07)
    for name in ["actual_usage", "net_split_cost", "net_unused_cost", "public_on_demand_split_cost",
                 "public_on_demand_unused_cost", "reserved_usage", "split_cost", "split_usage",
                 "split_usage_ratio", "unused_cost"]:
        cols[f"split_line_item_{name}"] = mostly_null_dbl(0.01, 0.1)
    cols["split_line_item_parent_resource_id"] = mostly_null_str(
        [f"i-0{h}" for h in hex_ids(rng, 200, 17)], 0.01)
    # The map columns as CSV exports write them: JSON text (the distinct maps are few).
    as_json = {"resource_tags": pools.tag_json.take(tags_idx), "product": pools.tag_json.take(product_idx)}
    return cols, as_json


# ---------------------------------------------------------------------------------------------
# FOCUS 1.2

def focus_chunk(rng, state, n):
    """n rows of a FOCUS 1.2 export from several providers."""
    prov = rng.choice(len(FOCUS_PROVIDERS), size=n, p=FOCUS_SHARE)
    # Service within provider: Zipf within each provider's list; flattened to global indices.
    names, cats, offsets, regions_all, region_off = [], [], [], [], []
    for pname, _, _, svcs, scats, regs in FOCUS_PROVIDERS:
        offsets.append(len(names))
        names.extend(svcs)
        cats.extend(scats)
        region_off.append(len(regions_all))
        regions_all.extend(regs)
    svc = np.empty(n, dtype=np.int64)
    reg = np.empty(n, dtype=np.int64)
    for p, (_, _, _, svcs, _, regs) in enumerate(FOCUS_PROVIDERS):
        m = prov == p
        k = int(m.sum())
        svc[m] = offsets[p] + rng.choice(len(svcs), size=k, p=zipf_weights(len(svcs)))
        reg[m] = region_off[p] + rng.choice(len(regs), size=k, p=zipf_weights(len(regs), 1.3))
    hour = rng.integers(0, HOURS, size=n)
    start = (MONTH_START + hour.astype("timedelta64[h]")).astype("datetime64[us]")
    end = start + np.timedelta64(1, "h")
    rates = state["rates"]
    qtys = state["quantities"]
    list_price = rates[rng.integers(0, len(rates), size=n)]
    qty = qtys[rng.integers(0, len(qtys), size=n)]
    list_cost = np.round(list_price * qty, 10)
    discount = np.where(rng.random(n) < 0.3, 0.72, 1.0)
    contracted = np.round(list_cost * discount, 10)
    category = rng.choice(4, size=n, p=[0.9, 0.04, 0.04, 0.02])  # Usage, Purchase, Tax, Credit
    billed = np.where(category == 3, -contracted, contracted)
    effective = np.round(billed * np.where(rng.random(n) < 0.2, 0.6, 1.0), 10)
    res = rng.integers(0, len(state["resources"]), size=n)
    acct = rng.integers(0, len(state["sub_accounts"]), size=n)
    tz = pa.timestamp("us", tz="UTC")
    s = take

    def sn(values, share_present):
        return with_nulls(s(values, rng.integers(0, len(values), size=n)), rng, 1 - share_present)

    def dbl(v, null_share=0.0):
        return with_nulls(pa.array(v, type=pa.float64()), rng, null_share)

    provider_names = [p[0] for p in FOCUS_PROVIDERS]
    publisher = [p[1] for p in FOCUS_PROVIDERS]
    issuer = [p[2] for p in FOCUS_PROVIDERS]
    billing_accounts = state["billing_accounts"]
    cols = {
        "AvailabilityZone": sn(["us-east-1a", "us-east-1b", "eastus-1", "us-central1-a", "AD-1"], 0.3),
        "BilledCost": dbl(billed),
        "BillingAccountId": s(billing_accounts, prov),
        "BillingAccountName": s([f"{p} billing" for p in provider_names], prov),
        "BillingAccountType": s(["Billing Account", "Billing Profile", "Billing Account", "Tenancy"], prov),
        "BillingCurrency": pa.array(np.full(n, "USD", dtype=object), type=pa.string()),
        "BillingPeriodEnd": pa.array(np.full(n, (MONTH_START + np.timedelta64(30, "D")).astype("datetime64[us]")), type=tz),
        "BillingPeriodStart": pa.array(np.full(n, MONTH_START.astype("datetime64[us]")), type=tz),
        "CapacityReservationId": sn(["cr-0a1b2c3d4e5f60718"], 0.005),
        "CapacityReservationStatus": sn(["Used", "Unused"], 0.005),
        "ChargeCategory": s(["Usage", "Purchase", "Tax", "Credit"], category),
        "ChargeClass": sn(["Correction"], 0.002),
        "ChargeDescription": s(state["descriptions"], rng.integers(0, len(state["descriptions"]), size=n)),
        "ChargeFrequency": s(["Usage-Based", "One-Time", "Recurring", "Usage-Based"], category),
        "ChargePeriodEnd": pa.array(end, type=tz),
        "ChargePeriodStart": pa.array(start, type=tz),
        "CommitmentDiscountCategory": sn(["Spend", "Usage"], 0.1),
        "CommitmentDiscountId": sn(state["commitments"], 0.1),
        "CommitmentDiscountName": sn([f"commitment-{i}" for i in range(20)], 0.05),
        "CommitmentDiscountQuantity": dbl(qty, 0.9),
        "CommitmentDiscountStatus": sn(["Used", "Unused"], 0.1),
        "CommitmentDiscountType": sn(["Savings Plan", "Reserved Instance", "Committed Use Discount"], 0.1),
        "CommitmentDiscountUnit": sn(["Hours", "USD"], 0.1),
        "ConsumedQuantity": dbl(qty, 0.1),
        "ConsumedUnit": s(["Hours", "GB", "Requests", "GB-Hours", "vCPU-Hours"], rng.integers(0, 5, size=n)),
        "ContractedCost": dbl(contracted),
        "ContractedUnitPrice": dbl(np.round(list_price * discount, 10), 0.05),
        "EffectiveCost": dbl(effective),
        "InvoiceId": sn([f"INV-{i:08d}" for i in range(12)], 0.5),
        "InvoiceIssuerName": s(issuer, prov),
        "ListCost": dbl(list_cost),
        "ListUnitPrice": dbl(list_price, 0.05),
        "PricingCategory": sn(["Standard", "Dynamic", "Committed", "Other"], 0.9),
        "PricingCurrency": pa.array(np.full(n, "USD", dtype=object), type=pa.string()),
        "PricingCurrencyContractedUnitPrice": dbl(np.round(list_price * discount, 10), 0.05),
        "PricingCurrencyEffectiveCost": dbl(effective),
        "PricingCurrencyListUnitPrice": dbl(list_price, 0.05),
        "PricingQuantity": dbl(qty, 0.05),
        "PricingUnit": s(["Hours", "GB-Months", "Requests", "GB", "1M Requests"], rng.integers(0, 5, size=n)),
        "ProviderName": s(provider_names, prov),
        "PublisherName": s(publisher, prov),
        "RegionId": s(regions_all, reg),
        "RegionName": s([r.replace("-", " ").title() for r in regions_all], reg),
        "ResourceId": with_nulls(s(state["resources"], res), rng, 0.15),
        "ResourceName": sn([f"name-{i}" for i in range(5000)], 0.6),
        "ResourceType": sn(["Virtual Machine", "Bucket", "Database", "Function", "Disk", "Load Balancer"], 0.7),
        "ServiceCategory": s(cats, svc),
        "ServiceName": s(names, svc),
        "ServiceSubcategory": sn(["Virtual Machines", "Object Storage", "Relational Databases",
                                  "Serverless Compute", "Other (Networking)"], 0.8),
        "SkuId": s(state["skus"], rng.integers(0, len(state["skus"]), size=n)),
        "SkuMeter": sn(["Compute Usage", "Storage Usage", "Data Transfer", "Requests"], 0.7),
        "SkuPriceDetails": sn(['{"CoreCount":2}', '{"StorageClass":"Standard"}', '{}'], 0.3),
        "SkuPriceId": s(state["skus"], rng.integers(0, len(state["skus"]), size=n)),
        "SubAccountId": s(state["sub_accounts"], acct),
        "SubAccountName": s([f"sub-{i:03d}" for i in range(len(state["sub_accounts"]))], acct),
        "SubAccountType": s(["Account", "Subscription", "Project", "Compartment"], prov),
        "Tags": s(state["tag_json"], state["res_tags"][res]),
        "x_Discounts": sn(['{"bundled":0.0}'], 0.02),
        "x_Operation": sn(["RunInstances", "PutObject", "Invoke", "Query"], 0.55),
        "x_ServiceCode": sn(["AmazonEC2", "AmazonS3", "Microsoft.Compute", "6F81-5844-456A"], 0.8),
        "x_UsageType": sn(["USE1-BoxUsage:m5.large", "USE1-TimedStorage-ByteHrs"], 0.55),
    }
    return cols, {}


def focus_state(rng, pools):
    resources = []
    hexes = hex_ids(rng, 150_000, 20)
    for i, h in enumerate(hexes):
        p = i % 4
        if p == 0:
            resources.append(f"arn:aws:ec2:us-east-1:{pools.accounts[i % 60]}:instance/i-0{h[:17]}")
        elif p == 1:
            resources.append(f"/subscriptions/{h[:8]}-{h[8:12]}-{h[12:16]}-0000-000000000000/resourceGroups/"
                             f"rg-{i % 300}/providers/Microsoft.Compute/virtualMachines/vm-{h[:10]}")
        elif p == 2:
            resources.append(f"//compute.googleapis.com/projects/proj-{i % 80}/zones/us-central1-a/instances/{h}")
        else:
            resources.append(f"ocid1.instance.oc1.iad.{h}{h}")
    return {
        "resources": resources,
        "sub_accounts": [f"{rng.integers(10**11, 10**12)}" for _ in range(120)],
        "billing_accounts": ["123456789012", "0123abcd-4567-89ef-0123-456789abcdef:4567",
                             "01ABCD-234567-89EF01", "ocid1.tenancy.oc1..aaaaexample"],
        "rates": pools.rates,
        "quantities": pools.quantities,
        "descriptions": pools.descriptions,
        "commitments": [f"arn:aws:savingsplans::123456789012:savingsplan/{h}" for h in hex_ids(rng, 20, 32)],
        "skus": [h.upper() for h in hex_ids(rng, 4000, 12)],
        "tag_json": pools.tag_json.to_pylist(),
        "res_tags": rng.integers(0, len(pools.tag_json), size=len(resources)),
    }


# ---------------------------------------------------------------------------------------------
# Writing

def to_csv_table(cols, as_json, time_format):
    """The chunk as CSV exports write it: timestamps as text, maps as JSON text."""
    out = {}
    for name, arr in cols.items():
        t = arr.type
        if name in as_json:
            out[name] = as_json[name]
        elif pa.types.is_timestamp(t):
            if time_format == "cur":
                out[name] = strftime(arr.cast(pa.timestamp("ms")), "%Y-%m-%dT%H:%M:%SZ")
            else:
                out[name] = strftime(arr.cast(pa.timestamp("s")), "%Y-%m-%d %H:%M:%S")
        elif pa.types.is_map(t):
            out[name] = map_json(arr)
        else:
            out[name] = arr
    return pa.table(out)


def strftime(arr, fmt):
    """Timestamps as text, each distinct value formatted once (there are a few hundred)."""
    coded = arr.dictionary_encode()
    return pc.strftime(coded.dictionary, format=fmt).take(coded.indices)


def map_json(arr):
    """A map column without a JSON form given: only all-null ones are expected."""
    if arr.null_count != len(arr):
        raise ValueError("map column without its JSON text")
    return pa.nulls(len(arr), pa.string())


def leaf_paths(schema):
    """Parquet leaf column paths of string columns (incl. map keys and values)."""
    out = []
    for field in schema:
        if pa.types.is_string(field.type):
            out.append(field.name)
        elif pa.types.is_map(field.type):
            out.extend([f"{field.name}.key_value.key", f"{field.name}.key_value.value"])
    return out


def describe(path, read_columns):
    meta = pq.ParquetFile(path).metadata
    encodings = {}
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    for col in read_columns:
        i = names.index(col)
        seen = set()
        for rg in range(meta.num_row_groups):
            seen.update(meta.row_group(rg).column(i).encodings)
        encodings[col] = sorted(seen)
    rg0 = meta.row_group(0).column(0)
    return {"rows": meta.num_rows, "bytes": os.path.getsize(path), "columns": meta.num_columns,
            "row_groups": meta.num_row_groups, "compression": rg0.compression, "encodings": encodings}


def generate(shape, args, rng_seed):
    rng = np.random.default_rng(rng_seed)
    pools = Pools(rng, resources=int(min(max(args.rows // 20, 1000), 500_000)))
    summary = {}
    if shape == "cur2":
        make = lambda n: cur_chunk(rng, pools, n)  # noqa: E731
        targets = [("cur2-wide.parquet", dict(compression="snappy", use_dictionary=None)),
                   ("cur2-wide-dict.parquet", dict(compression="snappy", use_dictionary=True))]
        group = CHUNK
        csv_name, time_format = "cur2-wide.csv.gz", "cur"
        read = ["line_item_usage_start_date", "line_item_usage_end_date", "line_item_currency_code",
                "line_item_unblended_cost", "product_servicecode", "line_item_product_code"]
    else:
        state = focus_state(rng, pools)
        make = lambda n: focus_chunk(rng, state, n)  # noqa: E731
        targets = [("focus12.parquet", dict(compression="zstd", use_dictionary=True))]
        group = 131_072
        csv_name, time_format = "focus12.csv.gz", "focus"
        read = ["ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", "BilledCost", "ServiceName"]
    writers = {}
    csv_writer = None
    csv_stream = None
    done = 0
    total = max(args.rows, args.csv_rows)
    while done < total:
        n = min(CHUNK, total - done)
        cols, as_json = make(n)
        table = pa.table(cols)
        if done < args.rows:
            part = table.slice(0, min(n, args.rows - done))
            for name, opts in targets:
                if name not in writers:
                    dictionary = opts["use_dictionary"]
                    if dictionary is None:
                        dictionary = leaf_paths(table.schema)
                    # No Arrow schema in the file: exports are not written by Arrow, so a reader
                    # gets no hints (e.g. to read a column as a dictionary) beyond Parquet's own.
                    writers[name] = pq.ParquetWriter(
                        os.path.join(args.out, name), table.schema, compression=opts["compression"],
                        use_dictionary=dictionary, store_schema=False, write_statistics=True,
                        data_page_size=1 << 20)
                writers[name].write_table(part, row_group_size=group)
        if done < args.csv_rows:
            part = to_csv_table(cols, as_json, time_format).slice(0, min(n, args.csv_rows - done))
            if csv_writer is None:
                csv_stream = gzip.open(os.path.join(args.out, csv_name), "wb", compresslevel=6)
                csv_writer = pacsv.CSVWriter(csv_stream, part.schema)
            csv_writer.write_table(part)
        done += n
        print(f"bench_shapes: {shape} {done:,}/{total:,} rows", file=sys.stderr, flush=True)
    for name, writer in writers.items():
        writer.close()
        summary[name] = describe(os.path.join(args.out, name), read)
    if csv_writer is not None:
        csv_writer.close()
        csv_stream.close()
        summary[csv_name] = {"rows": args.csv_rows, "bytes": os.path.getsize(os.path.join(args.out, csv_name))}
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--csv-rows", type=int, default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--shapes", default="cur2,focus")
    args = ap.parse_args()
    if args.csv_rows is None:
        args.csv_rows = args.rows // 5
    os.makedirs(args.out, exist_ok=True)
    summary = {}
    for i, shape in enumerate(s for s in args.shapes.split(",") if s):
        if shape not in ("cur2", "focus"):
            sys.exit(f"bench_shapes: unknown shape {shape!r} (cur2, focus)")
        summary.update(generate(shape, args, args.seed * 100 + i))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
