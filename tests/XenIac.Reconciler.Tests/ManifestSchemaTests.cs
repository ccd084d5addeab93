using System.Text.Json.Nodes;
using NJsonSchema;
using XenIac.Reconciler.Manifests;
using XenIac.Tests;
using YamlDotNet.RepresentationModel;

namespace XenIac.Reconciler.Tests;

/// <summary>The published JSON Schema accepts what the loader accepts and rejects what it rejects.</summary>
public sealed class ManifestSchemaTests
{
    private static JsonSchema Schema() => JsonSchema.FromJsonAsync(ManifestSchema.Text).GetAwaiter().GetResult();

    /// <summary>YAML → JSON the way editors' YAML language servers see it (plain true/false/numbers typed).</summary>
    internal static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" } b => JsonValue.Create(b.Value == "true"),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "" or "null" or "~" or null } => null,
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } n when long.TryParse(n.Value, out var l) => JsonValue.Create(l),
        YamlScalarNode s => JsonValue.Create(s.Value),
        _ => throw new ArgumentOutOfRangeException(nameof(node)),
    };

    private static string YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return ToJson(stream.Documents[0].RootNode)!.ToJsonString();
    }

    [SkippableFact]
    public void Every_example_manifest_in_the_repository_validates()
    {
        var examples = Directory.EnumerateFiles(Path.Combine(SharedFixtures.RepoRoot, "examples"), "*.yaml", SearchOption.AllDirectories).ToList();
        Skip.If(examples.Count == 0, "no example manifests yet");
        foreach (var file in examples)
        {
            var errors = Schema().Validate(YamlToJson(File.ReadAllText(file)));
            Assert.True(errors.Count == 0, $"{file}: {string.Join("; ", errors)}");
        }
    }

    [Theory]
    [InlineData("domains:\n  - name: web\n    chekpoint: true\n")]
    [InlineData("domains:\n  - name: web\n    state: hibernating\n")]
    [InlineData("domains:\n  - name: web\n    checkpoint: yes\n")]
    [InlineData("domains:\n  - config: web.cfg\n")]
    [InlineData("defaults:\n  host: xen server\ndomains: []\n")]
    [InlineData("domains:\n  - name: web\n    overrides:\n      settings:\n        vif: [{mac: x}]\n")]
    [InlineData("domains:\n  - name: web\n    trustConfig: yes\n")]
    public void The_schema_rejects_what_the_loader_rejects(string yaml)
    {
        Assert.NotEmpty(Schema().Validate(YamlToJson(yaml)));
        Assert.Throws<ManifestException>(() => ManifestLoader.Parse(yaml, Path.Combine(Path.GetTempPath(), "x.yaml")));
    }

    [Fact]
    public void The_schema_names_exactly_the_keys_the_loader_knows()
    {
        var schema = JsonNode.Parse(ManifestSchema.Text)!;
        static IEnumerable<string> Keys(JsonNode? o) => o!.AsObject().Select(p => p.Key).Order();
        Assert.Equal(ManifestLoader.TopLevelKeys.Order(), Keys(schema["properties"]));
        Assert.Equal(ManifestLoader.DefaultsKeys.Order(), Keys(schema["properties"]!["defaults"]!["properties"]));
        Assert.Equal(ManifestLoader.DomainKeys.Order(), Keys(schema["definitions"]!["domain"]!["properties"]));
        Assert.Equal(ManifestLoader.OverrideKeys.Order(), Keys(schema["definitions"]!["domain"]!["properties"]!["overrides"]!["properties"]));
    }
}
